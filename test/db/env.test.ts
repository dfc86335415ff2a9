import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseApiConfig } from '../../api/env.js';
import { DEFAULT_DATABASE_URL, parseDbEnv, parseProcessEnv } from '../../db/env.js';
import { parseWorkerConfig } from '../../workers/env.js';

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

describe('process settings prelude', () => {
  const own = z.object({ PORT: z.coerce.number().int().default(8787) });

  it('parses the database settings and the process own ones from the set strings only', () => {
    const parsed = parseProcessEnv(
      { NODE_ENV: 'test', PORT: '9000', DATABASE_URL: '', BINDING: { not: 'a string' } },
      own,
    );
    expect(parsed.settings).toEqual({ PORT: 9000 });
    expect(parsed.db.DATABASE_URL).toBe(DEFAULT_DATABASE_URL);
    expect(parsed.production).toBe(false);
    expect(parsed.given).toEqual({ NODE_ENV: 'test', PORT: '9000' });
  });

  it('fails closed with the same message in the API and the workers', () => {
    for (const parse of [parseApiConfig, (s: Record<string, string>) => parseWorkerConfig(s)]) {
      expect(() => parse({ LOG_LEVEL: 'loud' })).toThrow(/^invalid environment: LOG_LEVEL: /);
      expect(() => parse({ NODE_ENV: 'production' })).toThrow(
        /^invalid environment: BRANCH_SECRET_KEY: required in production/,
      );
      expect(() =>
        parse({ NODE_ENV: 'production', BRANCH_SECRET_KEY: Buffer.alloc(32).toString('base64') }),
      ).toThrow(/REDIS_URL|JWT_SIGNING_KEYS/);
    }
  });
});
