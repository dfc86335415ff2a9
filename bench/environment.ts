import pg from 'pg';
import { parseDbEnv, type DbEnv } from '../db/env.js';
import { withDatabase } from '../db/migrate.js';
import { migrateAll } from '../db/platform.js';

/** A throwaway deployment for one benchmark run, on the local cluster (or DATABASE_URL's). */
export interface BenchEnvironment {
  env: DbEnv;
  prefix: string;
  adminUrl(suffix?: string): string;
  appUrl(suffix: string): string;
  destroy(): Promise<void>;
}

const CLUSTER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function benchEnvironment(label: string): Promise<BenchEnvironment> {
  const prefix = `hrb_${label}_${Math.random().toString(36).slice(2, 8)}`;
  const env = parseDbEnv({ DATABASE_URL: withDatabase(CLUSTER, prefix) });
  await migrateAll(env);
  const adminUrl = (suffix = '') => withDatabase(CLUSTER, suffix ? `${prefix}_${suffix}` : prefix);
  return {
    env,
    prefix,
    adminUrl,
    appUrl(suffix) {
      const u = new URL(adminUrl(suffix));
      u.username = env.APP_DB_ROLE;
      return u.toString();
    },
    async destroy() {
      const c = new pg.Client({ connectionString: withDatabase(CLUSTER, 'postgres') });
      await c.connect();
      try {
        const { rows } = await c.query<{ datname: string }>(
          `select datname from pg_database where datname = $1 or datname like $2`,
          [prefix, `${prefix}\\_%`],
        );
        for (const r of rows) await c.query(`drop database if exists "${r.datname}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Runs SQL as the superuser on one of the environment's databases. */
export async function asAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
