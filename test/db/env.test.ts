import { describe, expect, it } from 'vitest';
import { DEFAULT_DATABASE_URL, parseDbEnv } from '../../db/env.js';

describe('database settings', () => {
  it('default to the local services in development', () => {
    const env = parseDbEnv({});
    expect(env.DATABASE_URL).toBe(DEFAULT_DATABASE_URL);
    expect(env.BRANCH_PROVIDER).toBe('local');
    expect(Buffer.from(env.BRANCH_SECRET_KEY, 'base64')).toHaveLength(32);
  });

  it('fail closed in production without an encryption key', () => {
    expect(() => parseDbEnv({ NODE_ENV: 'production' })).toThrow(
      /BRANCH_SECRET_KEY: required in production/,
    );
  });

  it('require the Neon settings when branches come from Neon, naming them but not their values', () => {
    expect(() => parseDbEnv({ BRANCH_PROVIDER: 'neon', NEON_API_KEY: 'napi_secret' })).toThrow(
      /NEON_PROJECT_ID.*NEON_TEMPLATE_BRANCH_ID/,
    );
    expect(() => parseDbEnv({ BRANCH_PROVIDER: 'neon', NEON_API_KEY: 'napi_secret' })).not.toThrow(
      /napi_secret/,
    );
  });

  it('refuse a key of the wrong length and a role name that is not an identifier', () => {
    expect(() => parseDbEnv({ BRANCH_SECRET_KEY: Buffer.alloc(16).toString('base64') })).toThrow(
      /32 bytes/,
    );
    expect(() => parseDbEnv({ APP_DB_ROLE: 'app"; drop role x; --' })).toThrow(/APP_DB_ROLE/);
  });
});
