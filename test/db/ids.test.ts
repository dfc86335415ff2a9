import { describe, expect, it } from 'vitest';
import { isUuid } from '../../db/ids.js';

describe('isUuid', () => {
  it('accepts a canonical UUID in lower or upper case (PostgreSQL reads either)', () => {
    expect(isUuid('0b6f1c2e-8d3a-4c1b-9e2f-5a7d9c3b1e40')).toBe(true);
    expect(isUuid('0B6F1C2E-8D3A-4C1B-9E2F-5A7D9C3B1E40')).toBe(true);
  });

  it.each([
    ['a non-string', 42],
    ['an empty string', ''],
    ['no hyphens', '0b6f1c2e8d3a4c1b9e2f5a7d9c3b1e40'],
    ['braces', '{0b6f1c2e-8d3a-4c1b-9e2f-5a7d9c3b1e40}'],
    ['a non-hex digit', '0b6f1c2e-8d3a-4c1b-9e2f-5a7d9c3b1e4g'],
    ['trailing text', '0b6f1c2e-8d3a-4c1b-9e2f-5a7d9c3b1e40; drop table x'],
  ])('refuses %s', (_, value) => {
    expect(isUuid(value)).toBe(false);
  });
});
