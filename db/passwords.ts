import { scrypt as scryptCallback } from 'node:crypto';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as zxcvbnCommon from '@zxcvbn-ts/language-common';
import * as zxcvbnEn from '@zxcvbn-ts/language-en';

/**
 * Stored password credentials, to OWASP's Password Storage guidance. The stored string names
 * its scheme and parameters, so a change of cost is visible per user and the hash is
 * upgraded at the next successful login:
 *
 * - `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`: scrypt with N = 2^17, r = 8, p = 1 (128 MiB,
 *   memory-hard). The default on Node (node:crypto runs it on the libuv thread pool).
 * - `pbkdf2-sha256$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA256 through WebCrypto at
 *   600,000 iterations. For runtimes where only WebCrypto is fit for the work: a Worker has
 *   128 MB of memory in all, so it cannot run scrypt at N = 2^17 (see
 *   docs/tenancy-and-security.md#password-storage).
 *
 * Every runtime verifies both schemes; either one at today's cost counts as current, so a
 * user who signs in on both runtimes is not rehashed back and forth.
 */

export type PasswordScheme = 'scrypt' | 'pbkdf2-sha256';
export const PASSWORD_SCHEMES = ['scrypt', 'pbkdf2-sha256'] as const;

/** scrypt's cost today: N = 2^17, r = 8, p = 1 (OWASP's first scrypt option). */
export const SCRYPT_COST = { log2N: 17, r: 8, p: 1 } as const;
/** PBKDF2-HMAC-SHA256's cost today (OWASP: at least 600,000). */
export const PBKDF2_ITERATIONS = 600_000;
/** The default on Node; see `hashPassword`'s `scheme`. */
export const DEFAULT_PASSWORD_SCHEME: PasswordScheme = 'scrypt';

/** Above these a stored value is refused rather than run: a planted row must not stall a login. */
const MAX_PBKDF2_ITERATIONS = 5_000_000;
const MAX_SCRYPT_LOG2N = 20;
const MAX_SCRYPT_R = 16;
const MAX_SCRYPT_P = 4;

const SALT_BYTES = 16;
const HASH_BYTES = 32;

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
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

function scrypt(
  password: string,
  salt: Uint8Array,
  cost: { log2N: number; r: number; p: number },
): Promise<Uint8Array> {
  const N = 2 ** cost.log2N;
  // scrypt needs 128·N·r bytes (plus a little); node's default ceiling is 32 MiB.
  const maxmem = 128 * N * cost.r * cost.p + 32 * 1024 * 1024;
  return new Promise((resolve, reject) =>
    scryptCallback(password, salt, HASH_BYTES, { N, r: cost.r, p: cost.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key)),
    ),
  );
}

export type HashOptions =
  | { scheme: 'scrypt'; log2N?: number; r?: number; p?: number }
  | { scheme: 'pbkdf2-sha256'; iterations?: number };

/**
 * Hashes a password with a fresh salt at today's cost of the scheme (scrypt unless told
 * otherwise). A lower cost is only for tests that need a legacy hash.
 */
export async function hashPassword(
  password: string,
  options: PasswordScheme | HashOptions = DEFAULT_PASSWORD_SCHEME,
): Promise<string> {
  const o: HashOptions = typeof options === 'string' ? { scheme: options } : options;
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  if (o.scheme === 'pbkdf2-sha256') {
    const iterations = o.iterations ?? PBKDF2_ITERATIONS;
    const hash = await pbkdf2(password, salt, iterations);
    return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(hash)}`;
  }
  const cost = {
    log2N: o.log2N ?? SCRYPT_COST.log2N,
    r: o.r ?? SCRYPT_COST.r,
    p: o.p ?? SCRYPT_COST.p,
  };
  const hash = await scrypt(password, salt, cost);
  return `scrypt$${cost.log2N}$${cost.r}$${cost.p}$${b64(salt)}$${b64(hash)}`;
}

type Parsed =
  | { scheme: 'pbkdf2-sha256'; iterations: number; salt: Uint8Array; hash: Uint8Array }
  | {
      scheme: 'scrypt';
      log2N: number;
      r: number;
      p: number;
      salt: Uint8Array;
      hash: Uint8Array;
    };

const intIn = (text: string | undefined, min: number, max: number): number | null => {
  if (!text || !/^[0-9]{1,9}$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
};

function parse(stored: string): Parsed | null {
  const parts = stored.split('$');
  try {
    if (parts[0] === 'pbkdf2-sha256' && parts.length === 4) {
      const iterations = intIn(parts[1], 1, MAX_PBKDF2_ITERATIONS);
      if (iterations === null || !parts[2] || !parts[3]) return null;
      return { scheme: 'pbkdf2-sha256', iterations, salt: unb64(parts[2]), hash: unb64(parts[3]) };
    }
    if (parts[0] === 'scrypt' && parts.length === 6) {
      const log2N = intIn(parts[1], 1, MAX_SCRYPT_LOG2N);
      const r = intIn(parts[2], 1, MAX_SCRYPT_R);
      const p = intIn(parts[3], 1, MAX_SCRYPT_P);
      if (log2N === null || r === null || p === null || !parts[4] || !parts[5]) return null;
      return { scheme: 'scrypt', log2N, r, p, salt: unb64(parts[4]), hash: unb64(parts[5]) };
    }
  } catch {
    return null;
  }
  return null;
}

/** Constant-time check of a password against a stored hash; false for unknown formats. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.hash.length === 0) return false;
  const candidate =
    parsed.scheme === 'pbkdf2-sha256'
      ? await pbkdf2(password, parsed.salt, parsed.iterations)
      : await scrypt(password, parsed.salt, parsed);
  if (candidate.length !== parsed.hash.length) return false;
  let diff = 0;
  for (let i = 0; i < candidate.length; i++) diff |= candidate[i]! ^ parsed.hash[i]!;
  return diff === 0;
}

/**
 * True when a stored hash is below today's cost: an unknown scheme, scrypt under
 * N = 2^17, r = 8, p = 1, or PBKDF2 under 600,000 iterations. Either scheme at today's
 * cost is current, whichever runtime reads it.
 */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  if (!parsed) return true;
  if (parsed.scheme === 'pbkdf2-sha256') return parsed.iterations < PBKDF2_ITERATIONS;
  return parsed.log2N < SCRYPT_COST.log2N || parsed.r < SCRYPT_COST.r || parsed.p < SCRYPT_COST.p;
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
