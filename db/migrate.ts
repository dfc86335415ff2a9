import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { databaseOf, retryWhileTemplateBusy, withDatabase } from './branches/local.js';
import { ident, literal } from './sql-text.js';
import { METRIC_INPUTS_FUNCTION_SQL } from './metric-inputs.js';

// Cluster URL helpers live with the (runtime-neutral) local provisioner; re-exported for Node callers.
export { databaseOf, retryWhileTemplateBusy, withDatabase };

/** Which migration set a database gets: the control plane or a tenant branch. */
export type MigrationSet = 'control' | 'tenant';

const MIGRATIONS = {
  control: fileURLToPath(new URL('./migrations/control', import.meta.url)),
  tenant: fileURLToPath(new URL('./migrations/tenant', import.meta.url)),
} as const;
const GUARDS = fileURLToPath(new URL('./sql/tenant-guards.sql', import.meta.url));

export interface RoleNames {
  ownerRole: string;
  appRole: string;
  appPassword?: string | undefined;
}

/** Tag of the newest migration in a set: the schema version a migrated database reports. */
export async function latestSchemaVersion(set: MigrationSet): Promise<string> {
  const journal = JSON.parse(await readFile(`${MIGRATIONS[set]}/meta/_journal.json`, 'utf8')) as {
    entries: { tag: string }[];
  };
  const last = journal.entries.at(-1);
  if (!last) throw new Error(`no ${set} migrations`);
  return last.tag;
}

/**
 * Creates the owner and app roles when missing and (re)asserts their attributes, so a role
 * someone widened by hand is narrowed again. Needs a connection allowed to manage roles.
 */
export async function ensureRoles(adminUrl: string, roles: RoleNames): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // Roles are cluster-wide: serialize concurrent migrations so CREATE ROLE cannot race.
    await client.query(`select pg_advisory_lock(hashtext('homeroom:roles'))`);
    const existing = await client.query<{ rolname: string }>(
      `select rolname from pg_roles where rolname = any($1)`,
      [[roles.ownerRole, roles.appRole]],
    );
    const has = new Set(existing.rows.map((r) => r.rolname));
    if (!has.has(roles.ownerRole))
      await client.query(`create role ${ident(roles.ownerRole)} nologin`);
    if (!has.has(roles.appRole)) await client.query(`create role ${ident(roles.appRole)} login`);
    await client.query(
      `alter role ${ident(roles.appRole)} login nosuperuser nobypassrls nocreatedb nocreaterole noreplication noinherit`,
    );
    if (roles.appPassword) {
      await client.query(
        `alter role ${ident(roles.appRole)} password ${literal(roles.appPassword)}`,
      );
    }
    // The migrating session switches to the owner role, so the admin must be a member.
    await client.query(`grant ${ident(roles.ownerRole)} to current_user`).catch(() => undefined);
  } finally {
    await client
      .query(`select pg_advisory_unlock(hashtext('homeroom:roles'))`)
      .catch(() => undefined);
    await client.end();
  }
}

/** Creates a database owned by the owner role if it does not exist; returns true if created. */
export async function ensureDatabase(
  adminUrl: string,
  name: string,
  ownerRole: string,
  template?: string,
): Promise<boolean> {
  const client = new pg.Client({ connectionString: withDatabase(adminUrl, 'postgres') });
  await client.connect();
  try {
    const found = await client.query(`select 1 from pg_database where datname = $1`, [name]);
    if (found.rowCount) return false;
    const from = template ? ` template ${ident(template)}` : '';
    await retryWhileTemplateBusy(() =>
      client.query(`create database ${ident(name)} owner ${ident(ownerRole)}${from}`),
    );
    return true;
  } finally {
    await client.end();
  }
}

export interface MigrateResult {
  schemaVersion: string;
  /** Migrations applied by this run (0 when the database was already current). */
  applied: number;
}

/**
 * Applies a migration set to one database as the owner role and, for tenant branches,
 * re-applies the guards (RLS enabled and forced, policies, grants, triggers). Safe to
 * re-run: nothing is applied twice.
 */
export async function migrateDatabase(
  url: string,
  set: MigrationSet,
  roles: RoleNames,
): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`select pg_advisory_lock(hashtext('homeroom:migrate'))`);
    await client.query(`set role ${ident(roles.ownerRole)}`);
    const count = async () => {
      const r = await client.query<{ n: string }>(
        `select count(*)::text as n from information_schema.tables
          where table_schema = 'drizzle' and table_name = '__drizzle_migrations'`,
      );
      if (r.rows[0]?.n === '0') return 0;
      const m = await client.query<{ n: string }>(
        `select count(*)::text as n from drizzle.__drizzle_migrations`,
      );
      return Number(m.rows[0]?.n ?? 0);
    };
    const before = await count();
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS[set] });
    const applied = (await count()) - before;
    if (set === 'tenant') {
      await client.query(`select set_config('homeroom.app_role', $1, false)`, [roles.appRole]);
      await client.query(await readFile(GUARDS, 'utf8'));
      await client.query(METRIC_INPUTS_FUNCTION_SQL);
    }
    return { schemaVersion: await latestSchemaVersion(set), applied };
  } finally {
    await client
      .query(`select pg_advisory_unlock(hashtext('homeroom:migrate'))`)
      .catch(() => undefined);
    await client.end();
  }
}
