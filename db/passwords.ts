/**
 * Stored password credentials: PBKDF2-SHA256 through WebCrypto, so the same code runs on
 * Node and on Workers (where PBKDF2 is capped at 100,000 iterations). The stored string
 * names its scheme and parameters — `pbkdf2-sha256$<iterations>$<salt>$<hash>` — so a
 * change of cost is visible per user and the hash can be upgraded at the next login.
 */

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

const COMMON = new Set([
  'password1234',
  'passwordpassword',
  'qwertyuiop12',
  '123456789012',
  'letmein12345',
  'welcome12345',
  'changeme1234',
  'iloveyou1234',
  'administrator',
]);

/** Why a new password is too weak, or null if acceptable. */
export function passwordWeakness(password: string, context: string[] = []): string | null {
  if (password.length < 12) return 'must be at least 12 characters';
  if (password.length > 256) return 'must be at most 256 characters';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) =>
    r.test(password),
  ).length;
  if (password.length < 16 && classes < 3) {
    return 'must mix at least three of: lower case, upper case, digits, symbols (or be 16+ characters)';
  }
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || /^(.)\1+$/.test(password)) return 'is too common';
  for (const word of context) {
    if (word.length >= 4 && lower.includes(word.toLowerCase()))
      return 'must not contain your email or name';
  }
  return null;
}
