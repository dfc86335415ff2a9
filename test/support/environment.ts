import pg from 'pg';
import { parseDbEnv, type DbEnv } from '../../db/env.js';
import { withDatabase } from '../../db/migrate.js';
import { migrateAll } from '../../db/platform.js';

/** The cluster tests run against: `DATABASE_URL`'s server, or the local default. */
export const CLUSTER_URL =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, fully migrated deployment (control plane, template, pool) on the test cluster,
 * under a random database prefix so test files and concurrent runs never share state.
 */
export async function createTestEnvironment(
  label: string,
  clusterUrl = CLUSTER_URL,
): Promise<TestEnvironment> {
  const prefix = `hrt_${label}_${Math.random().toString(36).slice(2, 8)}`;
  const env = parseDbEnv({ NODE_ENV: 'test', DATABASE_URL: withDatabase(clusterUrl, prefix) });
  await migrateAll(env);
  return new TestEnvironment(prefix, env, clusterUrl);
}

export class TestEnvironment {
  constructor(
    readonly prefix: string,
    readonly env: DbEnv,
    /** The server it lives on (a test may start its own). */
    readonly clusterUrl = CLUSTER_URL,
  ) {}

  /** Superuser URL of one of this environment's databases (`''` = the control plane). */
  adminUrl(suffix = ''): string {
    return withDatabase(this.clusterUrl, suffix ? `${this.prefix}_${suffix}` : this.prefix);
  }

  /** App-role URL of one of this environment's branches. */
  appUrl(suffix: string): string {
    const u = new URL(this.adminUrl(suffix));
    u.username = this.env.APP_DB_ROLE;
    return u.toString();
  }

  /** Databases whose names start with this environment's prefix. */
  async databases(): Promise<string[]> {
    return withAdmin(
      async (c) => {
        const r = await c.query<{ datname: string }>(
          `select datname from pg_database where datname = $1 or datname like $2 order by 1`,
          [this.prefix, `${this.prefix}\\_%`],
        );
        return r.rows.map((row) => row.datname);
      },
      'postgres',
      this.clusterUrl,
    );
  }

  /** Drops every database of this environment. */
  async destroy(): Promise<void> {
    const names = await this.databases();
    await withAdmin(
      async (c) => {
        for (const name of names) await c.query(`drop database if exists "${name}" with (force)`);
      },
      'postgres',
      this.clusterUrl,
    );
  }
}

/** Runs `fn` with a superuser client on the `postgres` database. */
export async function withAdmin<T>(
  fn: (client: pg.Client) => Promise<T>,
  database = 'postgres',
  clusterUrl = CLUSTER_URL,
): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(clusterUrl, database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
