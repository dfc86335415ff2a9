import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret } from '../../db/secrets.js';

function randomKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
}

/** Flips one bit of the decoded bytes of a token segment and re-encodes it. */
function flipBit(token: string, segment: 1 | 2, byteIndex: number): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[segment] ?? '', 'base64url');
  bytes[byteIndex] = (bytes[byteIndex] ?? 0) ^ 0x01;
  parts[segment] = bytes.toString('base64url');
  return parts.join('.');
}

const secret = 'postgres://homeroom_app:s3cr3t-ü@branch-42.internal:5432/homeroom';

describe('branch secret encryption', () => {
  it('round-trips a connection string, including non-ASCII text', async () => {
    const key = randomKey();
    const token = await encryptSecret(secret, key);
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(token).not.toContain('s3cr3t');
    await expect(decryptSecret(token, key)).resolves.toBe(secret);
    await expect(decryptSecret(await encryptSecret('', key), key)).resolves.toBe('');
  });

  it('uses a fresh IV, so encrypting the same secret twice gives different tokens', async () => {
    const key = randomKey();
    const a = await encryptSecret(secret, key);
    const b = await encryptSecret(secret, key);
    expect(a).not.toBe(b);
    expect(a.split('.')[1]).not.toBe(b.split('.')[1]);
  });

  it('rejects a token whose ciphertext, tag or IV was altered, without revealing plaintext', async () => {
    const key = randomKey();
    const token = await encryptSecret(secret, key);
    const sealedLength = Buffer.from(token.split('.')[2] ?? '', 'base64url').length;
    const tampered = [
      flipBit(token, 2, 0), // ciphertext
      flipBit(token, 2, sealedLength - 1), // tag
      flipBit(token, 1, 0), // IV
      token.slice(0, -4), // truncated
    ];
    for (const bad of tampered) {
      const error = await decryptSecret(bad, key).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/could not be decrypted/);
      expect((error as Error).message).not.toContain('s3cr3t');
    }
  });

  it('rejects a token relabelled with another version, since the version is authenticated', async () => {
    const key = randomKey();
    const token = await encryptSecret(secret, key);
    await expect(decryptSecret(token.replace(/^v1\./, 'v2.'), key)).rejects.toThrow(
      /could not be decrypted/,
    );
    await expect(decryptSecret('not-a-token', key)).rejects.toThrow(/could not be decrypted/);
  });

  it('rejects decryption under a different key with the same generic error', async () => {
    const token = await encryptSecret(secret, randomKey());
    await expect(decryptSecret(token, randomKey())).rejects.toThrow(
      /^secret token could not be decrypted/,
    );
  });

  it('refuses keys that are not exactly 32 bytes of base64', async () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    const long = Buffer.alloc(33, 7).toString('base64');
    await expect(encryptSecret(secret, short)).rejects.toThrow(/32 bytes.*got 16 bytes/);
    await expect(encryptSecret(secret, long)).rejects.toThrow(/32 bytes.*got 33 bytes/);
    await expect(encryptSecret(secret, 'not base64!')).rejects.toThrow(/not valid base64/);
    const token = await encryptSecret(secret, randomKey());
    await expect(decryptSecret(token, short)).rejects.toThrow(/32 bytes/);
  });
});
