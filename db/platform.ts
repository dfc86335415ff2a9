import { eq, inArray } from 'drizzle-orm';
import { createDb } from './connection-node.js';
import type { DbEnv } from './env.js';
import {
  ensureDatabase,
  ensureRoles,
  migrateDatabase,
  withDatabase,
  databaseOf,
} from './migrate.js';
import type { VerificationSettings } from './domain-verification.js';
import * as control from './schema/control.js';
import type { BranchKind, BranchProvisioner } from './branches/provisioner.js';
import {
  branchValues,
  provisionerFor as provisionerWith,
  toProvisioned,
} from './tenants/branches.js';
import {
  createTenant as create,
  type CreatedTenant,
  type CreateTenantInput,
} from './tenants/create.js';
import type { OpenDb, PlatformDeps } from './tenants/deps.js';
import { listTenants as list, type TenantSummary } from './tenants/directory.js';
import {
  addDomain as add,
  verifyDomain as verify,
  type AddDomainInput,
  type AddedDomain,
  type VerifiedDomain,
  type VerifyDomainInput,
} from './tenants/domains.js';
import { DEFAULT_PLANS } from './tenants/plans.js';
import { setTenantStatus as setStatus, type SetStatusInput } from './tenants/status.js';

/**
 * Platform operations for Node processes (the tenant CLI, migrations, tests): the
 * runtime-neutral operations of db/tenants/ wired to `pg`, plus `migrateAll`, which
 * reads the migration files from disk and so exists on Node only.
 */

/** Opens connections over `pg` (TCP): what every Node caller of this module uses. */
export const openNode: OpenDb = (url, schema, max) => createDb({ driver: 'pg', url, schema, max });

export function provisionerFor(env: DbEnv): BranchProvisioner {
  return provisionerWith(env, openNode);
}

const rolesOf = (env: DbEnv) => ({
  ownerRole: env.BRANCH_PROVIDER === 'neon' ? env.NEON_OWNER_ROLE : env.OWNER_DB_ROLE,
  appRole: env.APP_DB_ROLE,
  appPassword: env.APP_DB_PASSWORD,
});

function openControl(env: DbEnv) {
  return createDb({ driver: 'pg', url: env.DATABASE_URL, schema: control, max: 2 });
}

/** Runs one platform operation with Node dependencies, closing the control pool after. */
async function withDeps<T>(env: DbEnv, fn: (deps: PlatformDeps) => Promise<T>): Promise<T> {
  const { db, close } = await openControl(env);
  try {
    return await fn({
      control: db,
      open: openNode,
      provisioner: provisionerFor(env),
      secretKey: env.BRANCH_SECRET_KEY,
    });
  } finally {
    await close();
  }
}

export interface MigrationReport {
  database: string;
  kind: 'control' | 'template' | BranchKind;
  schemaVersion: string;
  applied: number;
}

/**
 * Migrates the control plane, the template, the pool and every dedicated branch, and
 * records each branch's schema version. Re-running applies nothing and changes nothing.
 */
export async function migrateAll(
  env: DbEnv,
  log: (line: string) => void = () => {},
  provisioner: BranchProvisioner = provisionerFor(env),
): Promise<MigrationReport[]> {
  const roles = rolesOf(env);
  const report: MigrationReport[] = [];
  if (env.BRANCH_PROVIDER === 'local') {
    await ensureRoles(env.DATABASE_URL.replace(/\/[^/?]*(\?|$)/, '/postgres$1'), roles);
    await ensureDatabase(env.DATABASE_URL, databaseOf(env.DATABASE_URL), roles.ownerRole);
  } else {
    await ensureRoles(env.DATABASE_URL, roles);
  }

  const c = await migrateDatabase(env.DATABASE_URL, 'control', roles);
  report.push({ database: databaseOf(env.DATABASE_URL), kind: 'control', ...c });
  log(`control plane: ${c.schemaVersion} (${c.applied} applied)`);

  const { db, close } = await openControl(env);
  try {
    await db
      .insert(control.plans)
      .values(DEFAULT_PLANS.map((p) => ({ ...p })))
      .onConflictDoNothing();

    // The template first: every branch created after this is a copy of a current schema.
    const templateUrl = await provisioner.templateOwnerUrl();
    const t = await migrateDatabase(templateUrl, 'tenant', roles);
    report.push({ database: databaseOf(templateUrl), kind: 'template', ...t });
    log(`template: ${t.schemaVersion} (${t.applied} applied)`);

    const [pool] = await db
      .select()
      .from(control.branches)
      .where(eq(control.branches.kind, 'pool'));
    if (!pool) {
      const created = await provisioner.create('pool');
      await db.insert(control.branches).values({
        ...(await branchValues(created, 'pool', env.BRANCH_SECRET_KEY)),
        status: 'provisioning',
      });
      log(`pool branch created: ${created.databaseName}`);
    }

    const rows = await db
      .select()
      .from(control.branches)
      .where(inArray(control.branches.status, ['provisioning', 'ready']))
      .orderBy(control.branches.kind, control.branches.name);
    for (const row of rows) {
      const url = await provisioner.ownerUrl(await toProvisioned(row, env.BRANCH_SECRET_KEY));
      const r = await migrateDatabase(url, 'tenant', roles);
      report.push({ database: row.databaseName, kind: row.kind as BranchKind, ...r });
      if (row.schemaVersion !== r.schemaVersion || row.status !== 'ready') {
        await db
          .update(control.branches)
          .set({ schemaVersion: r.schemaVersion, migratedAt: new Date(), status: 'ready' })
          .where(eq(control.branches.id, row.id));
      }
      log(`${row.kind} branch ${row.name}: ${r.schemaVersion} (${r.applied} applied)`);
    }
    return report;
  } finally {
    await close();
  }
}

/**
 * Creates a tenant on the pool or a new dedicated branch (see db/tenants/create.ts): seeds its
 * defaults and first admin; nothing is left half-created when any step fails.
 */
export function createTenant(env: DbEnv, input: CreateTenantInput): Promise<CreatedTenant> {
  return withDeps(env, (deps) => create(deps, input));
}

/**
 * Adds a hostname to a tenant, optionally bound to one of its schools (a school's own site):
 * unverified, with the token to publish, unless the operator vouches for it (`verified`).
 */
export function addDomain(env: DbEnv, input: AddDomainInput): Promise<AddedDomain> {
  return withDeps(env, (deps) => add(deps, input));
}

/** The proof checks as this environment configures them. */
export const verificationSettings = (env: DbEnv): VerificationSettings => ({
  resolverUrl: env.DNS_RESOLVER_URL,
  fileUrls: env.DOMAIN_VERIFY_FILE_URL,
});

/** Looks for the domain's published token (DNS TXT, else the proof file); marks it verified. */
export function verifyDomain(env: DbEnv, input: VerifyDomainInput): Promise<VerifiedDomain> {
  return withDeps(env, (deps) => verify(deps, verificationSettings(env), input));
}

/** Suspends or reactivates a tenant. */
export async function setTenantStatus(env: DbEnv, input: SetStatusInput): Promise<void> {
  await withDeps(env, (deps) => setStatus(deps, input));
}

/** Every tenant with its branch and domains, by slug. */
export function listTenants(env: DbEnv): Promise<TenantSummary[]> {
  return withDeps(env, (deps) => list(deps));
}

/**
 * A tenant's id and an owner connection URI for its branch, for bulk loads that must bypass
 * row-level security (`npm run seed`); null when no tenant has the slug.
 */
export async function tenantBranchOwner(
  env: DbEnv,
  slug: string,
): Promise<{ tenantId: string; ownerUrl: string } | null> {
  const { db, close } = await openControl(env);
  try {
    const [row] = await db
      .select({ tenantId: control.tenants.id, branch: control.branches })
      .from(control.tenants)
      .innerJoin(control.branches, eq(control.branches.id, control.tenants.branchId))
      .where(eq(control.tenants.slug, slug));
    if (!row) return null;
    const ownerUrl = await provisionerFor(env).ownerUrl(
      await toProvisioned(row.branch, env.BRANCH_SECRET_KEY),
    );
    return { tenantId: row.tenantId, ownerUrl };
  } finally {
    await close();
  }
}

export { withDatabase };
