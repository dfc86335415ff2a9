/**
 * Encryption at rest for branch connection secrets (AES-256-GCM via WebCrypto, so the same
 * code runs on Node and on Workers without `node:crypto` or `Buffer`).
 *
 * Token: `v1.<base64url IV>.<base64url ciphertext‖tag>`. The version names the algorithm
 * and key generation so either can rotate while old rows still decrypt; it is bound as
 * additional authenticated data, so relabelling a token as another version fails.
 */

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encrypts `plaintext` under a base64-encoded 32-byte key; each call uses a fresh IV. */
export async function encryptSecret(plaintext: string, keyBase64: string): Promise<string> {
  const key = await importKey(keyBase64);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(VERSION), tagLength: TAG_BYTES * 8 },
    key,
    encoder.encode(plaintext),
  );
  return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** Decrypts a token from {@link encryptSecret}; throws one generic Error for any bad token. */
export async function decryptSecret(token: string, keyBase64: string): Promise<string> {
  const key = await importKey(keyBase64);
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) throw undecryptable();
  const iv = fromBase64Url(parts[1] ?? '');
  const sealed = fromBase64Url(parts[2] ?? '');
  if (!iv || !sealed || iv.length !== IV_BYTES || sealed.length < TAG_BYTES) {
    throw undecryptable();
  }
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(VERSION), tagLength: TAG_BYTES * 8 },
      key,
      sealed,
    );
    return decoder.decode(plain);
  } catch {
    // Wrong key and tampering are indistinguishable to GCM and must stay so to callers.
    throw undecryptable();
  }
}

function undecryptable(): Error {
  return new Error('secret token could not be decrypted (tampered, malformed or wrong key)');
}

async function importKey(keyBase64: string): Promise<CryptoKey> {
  const raw = fromBase64(keyBase64);
  if (!raw || raw.length !== KEY_BYTES) {
    throw new Error(
      `secret key must be ${KEY_BYTES} bytes, base64-encoded` +
        (raw ? ` (got ${raw.length} bytes)` : ' (not valid base64)'),
    );
  }
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Canonical base64url only (no padding, zero trailing bits): atob ignores stray trailing
 * bits, and a token that decrypts should have exactly one spelling.
 */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const bytes = fromBase64(text.replace(/-/g, '+').replace(/_/g, '/'));
  return bytes && toBase64Url(bytes) === text ? bytes : null;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.replace(/=+$/, '').length % 4 === 1) {
    return null;
  }
  const padded = trimmed.replace(/=+$/, '');
  try {
    const binary = atob(padded + '='.repeat((4 - (padded.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
