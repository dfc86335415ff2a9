import { z } from 'zod';

/** Local defaults: the services the development and test machines run. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/homeroom';

/**
 * A fixed key for development and tests only. Production refuses to start without
 * BRANCH_SECRET_KEY (see parseDbEnv).
 */
const DEV_BRANCH_SECRET_KEY = 'aG9tZXJvb20tZGV2LWtleS1ub3QtYS1zZWNyZXQhISE=';

const base64Key = z.string().refine((v) => {
  try {
    return Buffer.from(v, 'base64').length === 32;
  } catch {
    return false;
  }
}, 'must be 32 bytes, base64-encoded');

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    /** Control-plane database, connected to as its owner (migrations, platform CLI). */
    DATABASE_URL: z.url().default(DEFAULT_DATABASE_URL),
    /** Where new branches come from: `local` (CREATE DATABASE … TEMPLATE) or `neon`. */
    BRANCH_PROVIDER: z.enum(['local', 'neon']).default('local'),
    /** AES-256-GCM key (base64, 32 bytes) that encrypts branch connection secrets at rest. */
    BRANCH_SECRET_KEY: base64Key.optional(),
    /** Login role the API and workers use on tenant branches (NOSUPERUSER, NOBYPASSRLS). */
    APP_DB_ROLE: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .default('homeroom_app'),
    APP_DB_PASSWORD: z.string().min(1).optional(),
    /** Role that owns every table; migrations run as it. */
    OWNER_DB_ROLE: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .default('homeroom_owner'),
    NEON_API_KEY: z.string().min(1).optional(),
    NEON_PROJECT_ID: z.string().min(1).optional(),
    NEON_API_URL: z.url().default('https://console.neon.tech/api/v2'),
    /** Branch every dedicated branch is created from, and the shared pool branch. */
    NEON_TEMPLATE_BRANCH_ID: z.string().min(1).optional(),
    NEON_POOL_BRANCH_ID: z.string().min(1).optional(),
    NEON_DATABASE_NAME: z.string().min(1).default('homeroom'),
    NEON_OWNER_ROLE: z.string().min(1).default('homeroom_owner'),
    /** DNS-over-HTTPS resolver (JSON, `application/dns-json`) that checks domain TXT proofs. */
    DNS_RESOLVER_URL: z.url().default('https://cloudflare-dns.com/dns-query'),
    /**
     * Where a domain's proof file is looked for, `{host}` standing for the hostname; several
     * space-separated addresses are tried in order.
     */
    DOMAIN_VERIFY_FILE_URL: z
      .string()
      .refine((v) => v.split(/\s+/).every((u) => u.includes('{host}')), 'each address needs {host}')
      .default(
        'https://{host}/.well-known/homeroom-verify.txt http://{host}/.well-known/homeroom-verify.txt',
      ),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && !env.BRANCH_SECRET_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['BRANCH_SECRET_KEY'],
        message: 'required in production',
      });
    }
    if (env.BRANCH_PROVIDER === 'neon') {
      for (const key of ['NEON_API_KEY', 'NEON_PROJECT_ID', 'NEON_TEMPLATE_BRANCH_ID'] as const) {
        if (!env[key]) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'required when BRANCH_PROVIDER=neon',
          });
        }
      }
    }
  });

export type DbEnv = z.infer<typeof schema> & { BRANCH_SECRET_KEY: string };

/** The non-empty string settings of a source (`process.env` or a Worker's bindings). */
function givenStrings(source: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).filter(
      (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
    ),
  );
}

/** Parses `source` with `schema`, or throws one `invalid environment: …` error listing every issue. */
function parseOrThrow<S extends z.ZodType>(schema: S, source: Record<string, string>): z.output<S> {
  const result = schema.safeParse(source);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid environment: ${detail}`);
  }
  return result.data;
}

/** Parses the database-related settings once, at a process entry point; fails closed. */
export function parseDbEnv(source: Record<string, unknown>): DbEnv {
  const data = parseOrThrow(schema, givenStrings(source));
  return { ...data, BRANCH_SECRET_KEY: data.BRANCH_SECRET_KEY ?? DEV_BRANCH_SECRET_KEY };
}

/** A boolean setting: `true`/`false`/`1`/`0`. */
export const flagSetting = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

/** `LOG_LEVEL`, the same for every process. */
export const logLevelSetting = z.enum(['debug', 'info', 'warn', 'error']).default('info');

/**
 * The prelude every process's settings share (the API's, the workers'): the database
 * settings, then the process's own `schema` over the same source, failing closed. `given`
 * holds what was actually set (non-empty strings), for checks a default would hide.
 */
export function parseProcessEnv<S extends z.ZodType>(
  source: Record<string, unknown>,
  schema: S,
): { settings: z.output<S>; db: DbEnv; production: boolean; given: Record<string, string> } {
  const given = givenStrings(source);
  const db = parseDbEnv(given);
  const settings = parseOrThrow(schema, given);
  return { settings, db, production: db.NODE_ENV === 'production', given };
}
