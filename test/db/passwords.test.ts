import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  needsRehash,
  passwordWeakness,
  PBKDF2_ITERATIONS,
  SCRYPT_COST,
  verifyPassword,
} from '../../db/passwords.js';

describe('password hashes', () => {
  it('store scrypt at N=2^17, r=8, p=1 by default and verify only the right password', async () => {
    const stored = await hashPassword('Correct-Horse-Battery-9');
    expect(stored).toMatch(/^scrypt\$17\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(await verifyPassword('Correct-Horse-Battery-9', stored)).toBe(true);
    expect(await verifyPassword('correct-horse-battery-9', stored)).toBe(false);
    expect(stored).not.toBe(await hashPassword('Correct-Horse-Battery-9'));
    expect(needsRehash(stored)).toBe(false);
  });

  it('store PBKDF2-SHA256 at 600,000 iterations where asked (Workers) and verify it', async () => {
    const stored = await hashPassword('Correct-Horse-Battery-9', 'pbkdf2-sha256');
    expect(PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(600_000);
    expect(stored).toMatch(/^pbkdf2-sha256\$600000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(await verifyPassword('Correct-Horse-Battery-9', stored)).toBe(true);
    expect(await verifyPassword('Correct-Horse-Battery-0', stored)).toBe(false);
    expect(needsRehash(stored)).toBe(false);
  });

  it("flag hashes below today's cost for an upgrade, and still verify them", async () => {
    const legacy = await hashPassword('Correct-Horse-Battery-9', {
      scheme: 'pbkdf2-sha256',
      iterations: 100_000,
    });
    expect(needsRehash(legacy)).toBe(true);
    expect(await verifyPassword('Correct-Horse-Battery-9', legacy)).toBe(true);
    const cheapScrypt = await hashPassword('Correct-Horse-Battery-9', {
      scheme: 'scrypt',
      log2N: 14,
    });
    expect(needsRehash(cheapScrypt)).toBe(true);
    expect(await verifyPassword('Correct-Horse-Battery-9', cheapScrypt)).toBe(true);
    expect(SCRYPT_COST).toEqual({ log2N: 17, r: 8, p: 1 });
  });

  it.each([
    ['', 'unknown format'],
    ['bcrypt$10$abc$def', 'another scheme'],
    ['pbkdf2-sha256$999999999$AAAA$AAAA', 'a cost too high to run'],
    ['scrypt$30$8$1$AAAA$AAAA', 'a scrypt cost too high to run'],
    ['scrypt$17$8$1$AAAA', 'a missing part'],
    ['pbkdf2-sha256$100000$!!!$AAAA', 'bad base64'],
  ])('refuse a stored value with %s (%s)', async (stored) => {
    expect(await verifyPassword('anything', stored)).toBe(false);
    expect(needsRehash(stored)).toBe(true);
  });
});

describe('password strength', () => {
  it.each([
    ['short1!A', /at least 12/],
    ['alllowercaseletters', null],
    ['Password1234', /too easy to guess \(This is similar to a commonly used password\)/],
    ['qwertyuiop12', /too easy to guess/],
    ['Maple-Syrup-77', null],
    ['password1234', /too easy to guess/],
    ['aaaaaaaaaaaaaaaaaaaa', /too easy to guess \(Repeated characters/],
    ['Correct Horse Battery Staple', null],
    ['jane.doe-Secret-1', /email or name/],
    ['Quiet-Jane-Lantern-42', /email or name/],
  ])('judges %s', (password, expected) => {
    const weakness = passwordWeakness(password, ['jane.doe@school.example', 'Jane', 'Doe']);
    if (expected) expect(weakness).toMatch(expected);
    else expect(weakness).toBeNull();
  });

  it('counts what the short word list missed: keyboard walks and common passwords', () => {
    // The former rule (three character classes, a nine-word list) accepted both.
    expect(passwordWeakness('Qwerty123456!')).toMatch(/too easy to guess/);
    expect(passwordWeakness('Iloveyou2024!')).toMatch(/too easy to guess/);
  });
});
