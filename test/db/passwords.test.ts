import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  needsRehash,
  passwordWeakness,
  PASSWORD_ITERATIONS,
  verifyPassword,
} from '../../db/passwords.js';

describe('password hashes', () => {
  it('store their scheme and parameters and verify only the right password', async () => {
    const stored = await hashPassword('Correct-Horse-Battery-9');
    expect(stored).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(await verifyPassword('Correct-Horse-Battery-9', stored)).toBe(true);
    expect(await verifyPassword('correct-horse-battery-9', stored)).toBe(false);
    expect(stored).not.toBe(await hashPassword('Correct-Horse-Battery-9'));
  });

  it('flag hashes made with other parameters for an upgrade, and still verify them', async () => {
    const old = await hashPassword('Correct-Horse-Battery-9', 10_000);
    expect(needsRehash(old)).toBe(true);
    expect(await verifyPassword('Correct-Horse-Battery-9', old)).toBe(true);
    expect(needsRehash(await hashPassword('x'.repeat(12)))).toBe(false);
    expect(PASSWORD_ITERATIONS).toBeLessThanOrEqual(100_000);
  });

  it.each([
    ['', 'unknown format'],
    ['bcrypt$10$abc$def', 'another scheme'],
    ['pbkdf2-sha256$999999999$AAAA$AAAA', 'a cost above the Workers cap'],
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
