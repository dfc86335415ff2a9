/**
 * Seeding a tenant with deterministic synthetic data: `seedTenant` builds the network for a
 * preset, seed and as-of date and bulk-loads it into the tenant's branch with COPY, in one
 * transaction, as the branch owner (a superuser connection bypasses row-level security,
 * which COPY FROM requires).
 */
import pg from 'pg';
import { hashPassword } from '../passwords.js';
import { copyTable } from './copy.js';
import { DateFormat, dayOf, parseIsoDay, todayUtc } from './dates.js';
import { seedTables, type TenantRefs } from './tables/index.js';
import { PRESETS, type PresetName } from './presets.js';
import { silentProgress, type Progress, type TableResult } from './progress.js';
import { buildWorld } from './world/index.js';
import { ident } from '../sql-text.js';

export { PRESETS, PRESET_NAMES, isPresetName, type PresetName } from './presets.js';
export { createProgress, formatSummary, silentProgress, type Progress } from './progress.js';

/** The tenant already holds data and `replace` was not asked for. */
export class SeedRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedRefusedError';
  }
}

export interface SeedOptions {
  /** Owner/superuser connection to the tenant's branch (RLS bypassed). */
  ownerUrl: string;
  tenantId: string;
  preset: PresetName;
  /** Default 42. */
  seed?: number;
  /** `YYYY-MM-DD`; default today (UTC). */
  asOf?: string;
  /** Wipe the tenant's data first (keeping what tenant creation made). */
  replace?: boolean;
  progress?: Progress;
}

export interface SeedReport {
  tenantId: string;
  preset: PresetName;
  seed: number;
  asOf: string;
  tables: TableResult[];
  totalRows: number;
  loadMs: number;
  databaseBytes: number;
  databaseSize: string;
  logins: { role: 'principal' | 'teacher' | 'parent'; email: string }[];
  password: string;
}

export const DEFAULT_SEED = 42;

/** Resolves `--as-of` to a day number: a real `YYYY-MM-DD`, or today (UTC) when absent. */
export function resolveAsOf(asOf: string | undefined, now: Date = new Date()): number {
  if (asOf === undefined) return todayUtc(now);
  const day = parseIsoDay(asOf);
  if (day === null) throw new Error(`invalid as-of date "${asOf}": use YYYY-MM-DD`);
  // The generator needs both school years to be representable; keep to a sane range.
  if (day < dayOf(2000, 1, 1) || day > dayOf(2100, 1, 1))
    throw new Error(`as-of ${asOf} is out of range`);
  return day;
}

/**
 * Loads a preset into one tenant. Refuses (SeedRefusedError) if the tenant has students and
 * `replace` is not set; with `replace`, wipes the tenant's rows first in the same
 * transaction, so a failed load leaves the previous data in place. Each table is analyzed
 * right after its load.
 */
export async function seedTenant(options: SeedOptions): Promise<SeedReport> {
  const preset = PRESETS[options.preset];
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`invalid seed ${seed}: use an integer between 0 and 4294967295`);
  }
  const asOf = resolveAsOf(options.asOf);
  const asOfText = new DateFormat().date(asOf);
  const progress = options.progress ?? silentProgress;
  const client = new pg.Client({ connectionString: options.ownerUrl });
  await client.connect();
  const tables: TableResult[] = [];
  let logins: SeedReport['logins'] = [];
  const started = performance.now();
  try {
    await client.query('begin');
    // Two seeds of one tenant at once would interleave their wipes and loads.
    await client.query(`select pg_advisory_xact_lock(hashtext('homeroom:seed:' || $1))`, [
      options.tenantId,
    ]);
    const kept = await tenantDefaults(client, options.tenantId);
    const existing = await client.query<{ n: string }>(
      `select count(*)::text as n from students where tenant_id = $1`,
      [options.tenantId],
    );
    const students = Number(existing.rows[0]?.n ?? 0);
    if (students > 0 && !options.replace) {
      throw new SeedRefusedError(
        `tenant already has ${students} students; pass --replace to wipe its data and seed again`,
      );
    }
    if (options.replace) {
      const t0 = performance.now();
      const deleted = await wipeTenant(client, options.tenantId, kept);
      progress.note(
        `wiped ${deleted.toLocaleString('en-US')} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }

    // The presets' people sign in with the printed passwords alone: a seeded tenant requires
    // a second factor of no role until an admin sets a policy (PUT /v1/auth/policy).
    await client.query(
      `insert into auth_policies (tenant_id, mfa_required_roles)
       select $1, '{}' where not exists
         (select 1 from auth_policies where tenant_id = $1 and deleted_at is null)`,
      [options.tenantId],
    );
    const world = buildWorld({ preset, seed, asOf, tenantId: options.tenantId });
    logins = (['principal', 'teacher', 'parent'] as const).map((role) => ({
      role,
      email: world.demo.emails[role],
    }));
    const [principal, teacher, parent] = await Promise.all([
      hashPassword(preset.password),
      hashPassword(preset.password),
      hashPassword(preset.password),
    ]);
    const refs: TenantRefs = {
      rootOrgUnitId: kept.rootOrgUnitId,
      roleIds: kept.roleIds,
      passwordHashes: { principal: principal!, teacher: teacher!, parent: parent! },
    };
    // Per-row foreign-key triggers cost ~10 µs per check, most of the load time of the
    // multi-million-row tables. A superuser can switch them off for this transaction
    // (session_replication_role), and then every foreign key of every loaded table is
    // verified set-based right after its COPY: one anti-join instead of millions of
    // probes, and the transaction still fails on the first orphan.
    const su = await client.query<{ on: string }>(`select current_setting('is_superuser') as on`);
    const verifyKeys = su.rows[0]?.on === 'on';
    if (verifyKeys) await client.query(`set local session_replication_role = replica`);
    for (const source of seedTables(world, refs)) {
      const t0 = performance.now();
      progress.start(source.table);
      const rows = await copyTable(client, options.tenantId, source, {
        onRows: (n) => progress.rows(source.table, n),
      });
      // Analyze as soon as the table is loaded, inside the transaction (our own rows
      // count): the foreign-key checks of the tables loaded next, set-based or per row,
      // are planned from these statistics, and a per-row check planned while the table
      // looked empty scans it for every row. The tables also leave with fresh statistics.
      await client.query(`analyze ${ident(source.table)}`);
      if (verifyKeys) await verifyForeignKeys(client, options.tenantId, source.table);
      const result = { table: source.table, rows, ms: performance.now() - t0 };
      tables.push(result);
      progress.finish(result);
    }
    if (verifyKeys) await client.query(`set local session_replication_role = origin`);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    await client.end();
    throw err;
  }
  try {
    const size = await client.query<{ bytes: string; pretty: string }>(
      `select pg_database_size(current_database())::text as bytes,
              pg_size_pretty(pg_database_size(current_database())) as pretty`,
    );
    return {
      tenantId: options.tenantId,
      preset: options.preset,
      seed,
      asOf: asOfText,
      tables,
      totalRows: tables.reduce((n, t) => n + t.rows, 0),
      loadMs: performance.now() - started,
      databaseBytes: Number(size.rows[0]!.bytes),
      databaseSize: size.rows[0]!.pretty,
      logins,
      password: preset.password,
    };
  } finally {
    await client.end();
  }
}

/**
 * Checks every foreign key of a table for one tenant's rows (MATCH SIMPLE: a null column
 * means no reference) and throws on the first constraint with orphans.
 */
export async function verifyForeignKeys(
  client: pg.ClientBase,
  tenantId: string,
  table: string,
): Promise<void> {
  const keys = await client.query<{
    name: string;
    parent: string;
    cols: string[];
    refcols: string[];
  }>(
    `select k.conname as name, p.relname as parent,
            array(select a.attname::text from unnest(k.conkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i) as cols,
            array(select a.attname::text from unnest(k.confkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i) as refcols
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       join pg_class p on p.oid = k.confrelid
       join pg_namespace n on n.oid = c.relnamespace
      where k.contype = 'f' and n.nspname = 'public' and c.relname = $1
      order by k.conname`,
    [table],
  );
  for (const k of keys.rows) {
    const present = k.cols.map((c) => `c.${ident(c)} is not null`).join(' and ');
    const match = k.cols.map((c, i) => `p.${ident(k.refcols[i]!)} = c.${ident(c)}`).join(' and ');
    const r = await client.query<{ n: string }>(
      `select count(*)::text as n from ${ident(table)} c
        where c.tenant_id = $1 and ${present}
          and not exists (select 1 from ${ident(k.parent)} p where ${match})`,
      [tenantId],
    );
    const orphans = Number(r.rows[0]?.n ?? 0);
    if (orphans > 0) throw new Error(`${table}: ${orphans} rows violate foreign key ${k.name}`);
  }
}

/** What tenant creation made and a wipe keeps: the root org unit, the first admin, roles. */
export interface TenantDefaults {
  rootOrgUnitId: string;
  adminUserId: string | null;
  roleIds: TenantRefs['roleIds'];
}

async function tenantDefaults(client: pg.ClientBase, tenantId: string): Promise<TenantDefaults> {
  // Tenant creation records exactly which root and admin it made; fall back to the shape.
  const provisioned = await client.query<{ root: string | null; admin: string | null }>(
    `select after->>'root_org_unit_id' as root, after->>'admin_user_id' as admin
       from audit_log
      where tenant_id = $1 and action = 'tenant.provisioned'
      order by occurred_at limit 1`,
    [tenantId],
  );
  const roots = await client.query<{ id: string }>(
    `select id from org_units
      where tenant_id = $1 and kind = 'network' and parent_id is null and deleted_at is null
      order by created_at, id`,
    [tenantId],
  );
  const recorded = provisioned.rows[0];
  const root = roots.rows.find((r) => r.id === recorded?.root) ?? roots.rows[0];
  if (!root)
    throw new Error(
      `tenant ${tenantId} has no network root org unit: was it created with createTenant?`,
    );
  let admin = recorded?.admin ?? null;
  if (!admin) {
    const r = await client.query<{ id: string }>(
      `select u.id from users u
         join user_roles ur on ur.tenant_id = u.tenant_id and ur.user_id = u.id
         join roles ro on ro.tenant_id = ur.tenant_id and ro.id = ur.role_id
        where u.tenant_id = $1 and ro.key = 'network_admin'
        order by u.created_at, u.id limit 1`,
      [tenantId],
    );
    admin = r.rows[0]?.id ?? null;
  }
  const roles = await client.query<{ key: string; id: string }>(
    `select key, id from roles
      where tenant_id = $1 and key in ('principal', 'teacher', 'parent') and deleted_at is null`,
    [tenantId],
  );
  const role = (key: string) => {
    const r = roles.rows.find((x) => x.key === key);
    if (!r) throw new Error(`tenant ${tenantId} has no "${key}" role`);
    return r.id;
  };
  return {
    rootOrgUnitId: root.id,
    adminUserId: admin,
    roleIds: { principal: role('principal'), teacher: role('teacher'), parent: role('parent') },
  };
}

/**
 * Tables a wipe leaves whole: what tenant creation fills with defaults, and the tombstones
 * that tell incremental extraction about deletes (including the wipe's own).
 */
const KEPT_TABLES = new Set([
  'roles',
  'permissions',
  'role_permissions',
  'funnel_stages',
  'grading_scales',
  'row_tombstones',
  // Sign-in settings are the tenant's configuration, not synthetic data.
  'auth_policies',
  'sso_providers',
]);

/**
 * Deletes the tenant's rows from every tenant table, children before parents (the order is
 * read from the catalog, so tables added by later migrations are covered), keeping the
 * defaults, the root org unit, the first admin with their unscoped or root-scoped roles and
 * refresh tokens, and the provisioning audit entry.
 *
 * Triggers are off for the wipe only (session_replication_role = replica): the audit tables'
 * append-only guard would refuse, and per-row foreign-key and tombstone triggers would cost
 * minutes on millions of rows. Nothing is left dangling because every referencing table is
 * emptied first, and the tombstones the trigger would have written are inserted set-based
 * just before each delete, so incremental extraction still sees every removed row.
 */
export async function wipeTenant(
  client: pg.ClientBase,
  tenantId: string,
  kept: TenantDefaults,
): Promise<number> {
  const tables = await tenantTablesChildrenFirst(client);
  const tombstoned = await client.query<{ name: string }>(
    `select distinct c.relname as name from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where t.tgname = 'tombstone' and not t.tgisinternal`,
  );
  const withTombstones = new Set(tombstoned.rows.map((r) => r.name));
  // Rows each table keeps, with :root and :admin bound to the kept ids.
  const keep: Record<string, string> = {
    org_units: `and id <> :root`,
    users: `and id is distinct from :admin`,
    user_roles: `and not (user_id is not distinct from :admin and (org_unit_id is null or org_unit_id = :root))`,
    refresh_tokens: `and user_id is distinct from :admin`,
    user_totp: `and user_id is distinct from :admin`,
    mfa_recovery_codes: `and user_id is distinct from :admin`,
    audit_log: `and action <> 'tenant.provisioned'`,
  };
  await client.query(`set local session_replication_role = replica`);
  let deleted = 0;
  for (const table of tables) {
    if (KEPT_TABLES.has(table)) continue;
    const params: unknown[] = [tenantId];
    const where = `tenant_id = $1 ${keep[table] ?? ''}`.replace(/:(root|admin)/g, (_, name) => {
      params.push(name === 'root' ? kept.rootOrgUnitId : kept.adminUserId);
      return `$${params.length}::uuid`;
    });
    if (withTombstones.has(table)) {
      await client.query(
        `insert into row_tombstones (tenant_id, table_name, row_id)
         select tenant_id, $${params.length + 1}::text, id from ${ident(table)} where ${where}`,
        [...params, table],
      );
    }
    const r = await client.query(`delete from ${ident(table)} where ${where}`, params);
    deleted += r.rowCount ?? 0;
  }
  await client.query(`set local session_replication_role = origin`);
  return deleted;
}

/** Every public table with a tenant_id column, ordered so referencing tables come first. */
async function tenantTablesChildrenFirst(client: pg.ClientBase): Promise<string[]> {
  const tables = await client.query<{ name: string }>(
    `select c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')
        and exists (select 1 from pg_attribute a
                     where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
      order by c.relname`,
  );
  const edges = await client.query<{ child: string; parent: string }>(
    `select ch.relname as child, pa.relname as parent
       from pg_constraint k
       join pg_class ch on ch.oid = k.conrelid
       join pg_class pa on pa.oid = k.confrelid
       join pg_namespace n on n.oid = ch.relnamespace
      where k.contype = 'f' and n.nspname = 'public' and k.conrelid <> k.confrelid`,
  );
  const names = tables.rows.map((r) => r.name);
  const children = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
  for (const e of edges.rows) children.get(e.parent)?.add(e.child);
  const ordered: string[] = [];
  const done = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (done.has(name) || path.has(name)) return;
    path.add(name);
    for (const child of [...(children.get(name) ?? [])].sort()) visit(child, path);
    path.delete(name);
    done.add(name);
    ordered.push(name);
  };
  for (const name of names) visit(name, new Set());
  return ordered;
}
