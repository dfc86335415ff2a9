/**
 * Stored password credentials: PBKDF2-SHA256 through WebCrypto, so the same code runs on
 * Node and on Workers (where PBKDF2 is capped at 100,000 iterations). The stored string
 * names its scheme and parameters — `pbkdf2-sha256$<iterations>$<salt>$<hash>` — so a
 * change of cost is visible per user and the hash can be upgraded at the next login.
 */

import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as zxcvbnCommon from '@zxcvbn-ts/language-common';
import * as zxcvbnEn from '@zxcvbn-ts/language-en';

export const PASSWORD_SCHEME = 'pbkdf2-sha256';
/** The highest cost Workers allow; `needsRehash` flags anything stored below it. */
export const PASSWORD_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(password),
    'PBKDF2',
    false,
    ['deriveBits'],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/** Hashes a password with a fresh salt at the current cost. */
export async function hashPassword(
  password: string,
  iterations: number = PASSWORD_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${PASSWORD_SCHEME}$${iterations}$${b64(salt)}$${b64(hash)}`;
}

interface Parsed {
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

function parse(stored: string): Parsed | null {
  const [scheme, iter, salt, hash] = stored.split('$');
  if (scheme !== PASSWORD_SCHEME || !iter || !salt || !hash) return null;
  const iterations = Number(iter);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PASSWORD_ITERATIONS)
    return null;
  try {
    return { iterations, salt: unb64(salt), hash: unb64(hash) };
  } catch {
    return null;
  }
}

/** Constant-time check of a password against a stored hash; false for unknown formats. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.iterations);
  if (candidate.length !== parsed.hash.length) return false;
  let diff = 0;
  for (let i = 0; i < candidate.length; i++) diff |= candidate[i]! ^ parsed.hash[i]!;
  return diff === 0;
}

/** True when a stored hash uses another scheme or cost than today's. */
export function needsRehash(stored: string, iterations: number = PASSWORD_ITERATIONS): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.iterations !== iterations;
}

/** zxcvbn's score a new password must reach: 3 = "safely unguessable" (≥ 10^8 guesses). */
export const MIN_PASSWORD_SCORE = 3;

let estimator: ZxcvbnFactory | undefined;
/** Built on first use: the dictionaries are large, and workerd objects to work at module scope. */
function strength(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: zxcvbnEn.translations,
  });
  return estimator;
}

/**
 * Why a new password is too weak, or null if acceptable: zxcvbn's estimate (common
 * passwords, words, names, keyboard patterns, dates, l33t) with the user's own name and
 * email as extra dictionary words, plus a plain refusal of a password containing them.
 */
export function passwordWeakness(password: string, context: string[] = []): string | null {
  if (password.length < 12) return 'must be at least 12 characters';
  if (password.length > 256) return 'must be at most 256 characters';
  const lower = password.toLowerCase();
  // An email also counts by the parts of its local part (jane.doe@… → jane, doe).
  const words = context
    .flatMap((w) => (w.includes('@') ? [w, ...w.split('@')[0]!.split(/[._+-]+/)] : [w]))
    .filter((w) => w.length >= 4);
  for (const word of words) {
    if (lower.includes(word.toLowerCase())) return 'must not contain your email or name';
  }
  const result = strength().check(password, words);
  if (result.score >= MIN_PASSWORD_SCORE) return null;
  const why = result.feedback.warning ?? result.feedback.suggestions[0];
  return `is too easy to guess${why ? ` (${why.replace(/\.$/, '')})` : ''}`;
}
