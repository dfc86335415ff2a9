import { z } from 'zod';
import { flagSetting, logLevelSetting, parseProcessEnv, type DbEnv } from '../db/env.js';

/**
 * The API's settings, parsed once at the entry point (api/node.ts, api/worker.ts) from
 * `process.env` or the Worker's bindings. Anything invalid stops start-up: fail closed.
 */

/** A development-only ES256 signing key; production refuses to start with it. */
const DEV_SIGNING_KEY = {
  kty: 'EC',
  crv: 'P-256',
  kid: 'dev-2026-01',
  alg: 'ES256',
  x: 'mQG9wyn79FD6ZFyDe0mDIddFlxgX4xBZ_T4642Hxd8I',
  y: 'k0bfGexrAQ0uWJAa-WcSi19kO_aPqKRcOB0fc0ull5M',
  d: 'POcRZHnAQoz5wahk4-Hr-mkEna3sqv7JTNf2JYP6NvE',
};

/** A development-only key for secrets at rest of sign-in (TOTP, SSO); production needs its own. */
const DEV_AUTH_SECRET_KEY = 'aG9tZXJvb20tZGV2LWF1dGgta2V5LW5vdC1zZWNyZXQ=';

const signingKey = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  kid: z.string().min(1),
  alg: z.literal('ES256').default('ES256'),
  x: z.string(),
  y: z.string(),
  d: z.string(),
});
export type SigningJwk = z.infer<typeof signingKey>;

const schema = z.object({
  /** Apex under which every tenant also answers as `<slug>.<PLATFORM_DOMAIN>`. */
  PLATFORM_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+$/)
    .default('localhost'),
  /** Slug of the operator tenant whose `platform_admin` users may call /v1/platform. */
  PLATFORM_TENANT: z.string().default('homeroom'),
  /** Honour X-Forwarded-Host / X-Forwarded-For only behind a proxy you run. */
  TRUST_FORWARDED_HEADERS: flagSetting.default(false),
  REDIS_URL: z.string().url().optional(),
  /** `host:port` of the WebSocket→TCP proxy when the Neon driver talks to a plain Postgres. */
  DB_WS_PROXY: z.string().optional(),
  JWT_ISSUER: z.string().min(1).default('homeroom'),
  JWT_AUDIENCE: z.string().min(1).default('homeroom-api'),
  /** JSON array of ES256 private JWKs; the first signs, all verify (rotation by `kid`). */
  JWT_SIGNING_KEYS: z.string().optional(),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(900).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(3600)
    .default(30 * 24 * 3600),
  BROWSER_SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(600)
    .default(8 * 3600),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024),
  /** The largest OneRoster bundle `POST /v1/imports` takes (its body limit). */
  IMPORT_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024 * 1024),
  /** Requests per minute per tenant and client IP on the public endpoints. */
  PUBLIC_RATE_LIMIT: z.coerce.number().int().min(1).default(30),
  /** Login attempts per minute per tenant and client IP (against password spraying). */
  LOGIN_RATE_LIMIT: z.coerce.number().int().min(1).default(20),
  TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(30_000),
  TENANT_NEGATIVE_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  /** How old a tenant's status may be when it decides a request: suspension reaches every
   * process within this bound (at most 5 s), whatever TENANT_CACHE_TTL_MS says. */
  TENANT_STATUS_TTL_MS: z.coerce.number().int().min(0).max(5_000).default(5_000),
  /** Debounce of metric refreshes after a write: ≤ 5 s (docs/architecture.md#background-path). */
  REFRESH_DEBOUNCE_MS: z.coerce.number().int().min(0).max(5000).default(5000),
  METRICS_QUEUE: z.string().default('metrics'),
  /** The mail workers' queue (docs/operations.md#mail). */
  MAIL_QUEUE: z.string().default('mail'),
  /** How long an invitation link stays valid. */
  INVITATION_TTL_DAYS: z.coerce.number().int().min(1).max(60).default(7),
  /** Password-reset requests per minute per tenant and client IP. */
  PASSWORD_RESET_RATE_LIMIT: z.coerce.number().int().min(1).default(10),
  /** Password-reset requests per hour per tenant and email address. */
  PASSWORD_RESET_EMAIL_LIMIT: z.coerce.number().int().min(1).default(5),
  LOG_LEVEL: logLevelSetting,
  /**
   * How new password hashes are made: `scrypt` (N=2^17, r=8, p=1) or `pbkdf2-sha256`
   * (600,000 iterations). Unset: scrypt on Node, PBKDF2 on Workers, whose 128 MB cannot
   * hold scrypt's 128 MiB (docs/tenancy-and-security.md#password-storage).
   */
  PASSWORD_HASH_SCHEME: z.enum(['scrypt', 'pbkdf2-sha256']).optional(),
  /**
   * AES-256-GCM key (base64, 32 bytes) that encrypts TOTP secrets and single sign-on client
   * secrets at rest. Required in production; development and tests use a fixed key.
   */
  AUTH_SECRET_KEY: z
    .string()
    .refine((v) => /^[A-Za-z0-9+/]{43}=$/.test(v), 'must be 32 bytes, base64-encoded')
    .optional(),
  /** Bearer token of the Prometheus scraper on `GET /metrics`; unset, the path is off. */
  METRICS_TOKEN: z.string().min(16).optional(),
});

export type ApiConfig = z.infer<typeof schema> & {
  db: DbEnv;
  /** AUTH_SECRET_KEY, or the development key outside production. */
  authSecretKey: string;
  signingKeys: SigningJwk[];
  production: boolean;
};

/** Parses the API's configuration from a flat string map. Throws on anything invalid. */
export function parseApiConfig(source: Record<string, unknown>): ApiConfig {
  const { settings, db, production } = parseProcessEnv(source, schema);
  let signingKeys: SigningJwk[];
  if (settings.JWT_SIGNING_KEYS) {
    let raw: unknown;
    try {
      raw = JSON.parse(settings.JWT_SIGNING_KEYS);
    } catch {
      throw new Error('invalid environment: JWT_SIGNING_KEYS: not JSON');
    }
    const keys = z.array(signingKey).min(1).safeParse(raw);
    if (!keys.success)
      throw new Error(
        'invalid environment: JWT_SIGNING_KEYS: expected ES256 private JWKs with kid',
      );
    signingKeys = keys.data;
  } else if (production) {
    throw new Error('invalid environment: JWT_SIGNING_KEYS: required in production');
  } else {
    signingKeys = [DEV_SIGNING_KEY as SigningJwk];
  }
  if (production && !settings.REDIS_URL) {
    throw new Error('invalid environment: REDIS_URL: required in production');
  }
  if (production && !settings.AUTH_SECRET_KEY) {
    throw new Error('invalid environment: AUTH_SECRET_KEY: required in production');
  }
  const authSecretKey = settings.AUTH_SECRET_KEY ?? DEV_AUTH_SECRET_KEY;
  return { ...settings, db, signingKeys, production, authSecretKey };
}
