import { describe, expect, it } from 'vitest';
import { isTimeZone, todayIn } from '../../db/dates.js';

describe('todayIn', () => {
  const instant = new Date('2026-03-08T23:30:00Z');

  it("gives the zone's own date, not the server's", () => {
    expect(todayIn('UTC', instant)).toBe('2026-03-08');
    expect(todayIn('Pacific/Auckland', instant)).toBe('2026-03-09');
    expect(todayIn('America/Phoenix', new Date('2026-03-09T05:00:00Z'))).toBe('2026-03-08');
  });

  it('falls back to UTC for a missing or unknown zone', () => {
    expect(todayIn(null, instant)).toBe('2026-03-08');
    expect(todayIn(undefined, instant)).toBe('2026-03-08');
    expect(todayIn('Mars/Olympus_Mons', instant)).toBe('2026-03-08');
  });
});

describe('isTimeZone', () => {
  it('knows IANA zones and refuses anything else', () => {
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('America/Phoenix')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});
