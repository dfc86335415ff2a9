import { and, eq, inArray, sql } from 'drizzle-orm';
import { createDb } from './connection-node.js';
import type { DbEnv } from './env.js';
import {
  ensureDatabase,
  ensureRoles,
  migrateDatabase,
  withDatabase,
  databaseOf,
} from './migrate.js';
import { hashPassword, passwordWeakness } from './passwords.js';
import { decryptSecret, encryptSecret } from './secrets.js';
import { withTenant } from './tenancy.js';
import { DEFAULT_GRADING_SCALE, PERMISSIONS, SYSTEM_ROLE_DEFINITIONS } from './tenant-defaults.js';
import * as control from './schema/control.js';
import * as tenantSchema from './schema/tenant.js';
import { LocalProvisioner } from './branches/local.js';
import { neonProvisionerFromEnv } from './branches/neon.js';
import type { BranchKind, BranchProvisioner, ProvisionedBranch } from './branches/provisioner.js';

/**
 * Platform operations on the control plane and the branches: migrate everything, create
 * and place tenants, add domains, suspend. Used by the CLI (scripts/) and the platform API.
 */

export type PlatformErrorCode =
  | 'invalid_slug'
  | 'duplicate_slug'
  | 'invalid_domain'
  | 'duplicate_domain'
  | 'invalid_email'
  | 'weak_password'
  | 'unknown_plan'
  | 'tenant_not_found'
  | 'invalid_input';

/** A request the platform refuses; its message is safe to show to the caller. */
export class PlatformError extends Error {
  constructor(
    readonly code: PlatformErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PlatformError';
  }
}

const RESERVED_SLUGS = new Set([
  'www',
  'api',
  'app',
  'admin',
  'platform',
  'login',
  'auth',
  'static',
  'assets',
  'docs',
  'status',
  'mail',
  'support',
  'help',
  'billing',
  'dashboards',
  'pool',
  'template',
]);
const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const DEFAULT_PLANS = [
  { key: 'starter', name: 'Starter', maxStudents: 150, maxStaff: 25, priceCents: 0 },
  { key: 'school', name: 'School', maxStudents: 1500, maxStaff: 200, priceCents: 0 },
  { key: 'network', name: 'Network', maxStudents: 50000, maxStaff: 5000, priceCents: 0 },
] as const;

/** Normalises a hostname the way tenant resolution will: lower case, no port, no trailing dot. */
export function normaliseHostname(input: string): string {
  const host = input.trim().toLowerCase().replace(/\.$/, '');
  if (!HOSTNAME.test(host)) {
    throw new PlatformError(
      'invalid_domain',
      `invalid domain "${input}": use a bare hostname such as school.example.org`,
    );
  }
  return host;
}

export function validateSlug(slug: string): void {
  if (!SLUG.test(slug)) {
    throw new PlatformError(
      'invalid_slug',
      `invalid slug "${slug}": 3–40 characters, lower-case letters, digits and hyphens, starting with a letter`,
    );
  }
  if (RESERVED_SLUGS.has(slug))
    throw new PlatformError('invalid_slug', `slug "${slug}" is reserved`);
}

export function provisionerFor(
  env: DbEnv,
): BranchProvisioner & { templateOwnerUrl(): Promise<string> } {
  if (env.BRANCH_PROVIDER === 'neon') return neonProvisionerFromEnv(env);
  return new LocalProvisioner({
    adminUrl: env.DATABASE_URL,
    prefix: databaseOf(env.DATABASE_URL),
    ownerRole: env.OWNER_DB_ROLE,
    appRole: env.APP_DB_ROLE,
    appPassword: env.APP_DB_PASSWORD,
  });
}

const rolesOf = (env: DbEnv) => ({
  ownerRole: env.BRANCH_PROVIDER === 'neon' ? env.NEON_OWNER_ROLE : env.OWNER_DB_ROLE,
  appRole: env.APP_DB_ROLE,
  appPassword: env.APP_DB_PASSWORD,
});

function openControl(env: DbEnv) {
  return createDb({ driver: 'pg', url: env.DATABASE_URL, schema: control, max: 2 });
}

type BranchRow = typeof control.branches.$inferSelect;

async function toProvisioned(row: BranchRow, env: DbEnv): Promise<ProvisionedBranch> {
  return {
    name: row.name,
    provider: row.provider as ProvisionedBranch['provider'],
    databaseName: row.databaseName,
    appUrl: await decryptSecret(row.connectionSecret, env.BRANCH_SECRET_KEY),
    ...(row.neonProjectId && row.neonBranchId
      ? {
          neon: {
            projectId: row.neonProjectId,
            branchId: row.neonBranchId,
            endpointId: row.neonEndpointId ?? '',
          },
        }
      : {}),
  };
}

async function branchValues(branch: ProvisionedBranch, kind: BranchKind, env: DbEnv) {
  return {
    name: branch.name,
    kind,
    provider: branch.provider,
    databaseName: branch.databaseName,
    connectionSecret: await encryptSecret(branch.appUrl, env.BRANCH_SECRET_KEY),
    neonProjectId: branch.neon?.projectId ?? null,
    neonBranchId: branch.neon?.branchId ?? null,
    neonEndpointId: branch.neon?.endpointId ?? null,
  };
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
): Promise<MigrationReport[]> {
  const roles = rolesOf(env);
  const provisioner = provisionerFor(env);
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
      await db
        .insert(control.branches)
        .values({ ...(await branchValues(created, 'pool', env)), status: 'provisioning' });
      log(`pool branch created: ${created.databaseName}`);
    }

    const rows = await db
      .select()
      .from(control.branches)
      .where(inArray(control.branches.status, ['provisioning', 'ready']))
      .orderBy(control.branches.kind, control.branches.name);
    for (const row of rows) {
      const url = await provisioner.ownerUrl(await toProvisioned(row, env));
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

export interface CreateTenantInput {
  slug: string;
  name: string;
  domains: string[];
  placement: BranchKind;
  plan?: string;
  adminEmail: string;
  adminPassword: string;
  adminName?: string;
  timezone?: string;
  /** Who asked: `cli:<user>` or the platform admin's id. */
  actor: string;
  requestId?: string;
}

export interface CreatedTenant {
  id: string;
  slug: string;
  branch: string;
  placement: BranchKind;
  rootOrgUnitId: string;
  adminUserId: string;
}

function validateCreate(input: CreateTenantInput): { domains: string[]; email: string } {
  validateSlug(input.slug);
  if (!input.name.trim() || input.name.length > 200) {
    throw new PlatformError('invalid_input', 'name is required (at most 200 characters)');
  }
  const email = input.adminEmail.trim().toLowerCase();
  if (!EMAIL.test(email))
    throw new PlatformError('invalid_email', `invalid admin email "${input.adminEmail}"`);
  const weak = passwordWeakness(input.adminPassword, [email.split('@')[0] ?? '', input.slug]);
  if (weak) throw new PlatformError('weak_password', `admin password ${weak}`);
  if (input.domains.length === 0)
    throw new PlatformError('invalid_domain', 'at least one domain is required');
  const domains = [...new Set(input.domains.map(normaliseHostname))];
  return { domains, email };
}

/**
 * Creates a tenant: places it on the pool or a new dedicated branch, seeds its default
 * roles, permissions, funnel stages and grading scale, and creates its first admin. The
 * control-plane rows commit only after the branch is seeded, and a dedicated branch made
 * for a tenant that then fails is dropped again: nothing is left half-created.
 */
export async function createTenant(env: DbEnv, input: CreateTenantInput): Promise<CreatedTenant> {
  const { domains, email } = validateCreate(input);
  const planKey = input.plan ?? 'school';
  const provisioner = provisionerFor(env);
  const { db, close } = await openControl(env);
  let dedicated: { branch: ProvisionedBranch; rowId: string } | null = null;
  try {
    // Refuse the common conflicts before provisioning anything.
    const [plan] = await db.select().from(control.plans).where(eq(control.plans.key, planKey));
    if (!plan) throw new PlatformError('unknown_plan', `unknown plan "${planKey}"`);
    const [taken] = await db
      .select({ id: control.tenants.id })
      .from(control.tenants)
      .where(eq(control.tenants.slug, input.slug));
    if (taken) throw new PlatformError('duplicate_slug', `slug "${input.slug}" is already taken`);
    const clash = await db
      .select({ hostname: control.tenantDomains.hostname })
      .from(control.tenantDomains)
      .where(inArray(control.tenantDomains.hostname, domains));
    if (clash[0])
      throw new PlatformError(
        'duplicate_domain',
        `domain "${clash[0].hostname}" is already in use`,
      );

    let branchRow: BranchRow;
    if (input.placement === 'dedicated') {
      const branch = await provisioner.create(`t-${input.slug}`);
      const [row] = await db
        .insert(control.branches)
        .values({ ...(await branchValues(branch, 'dedicated', env)), status: 'provisioning' })
        .returning();
      dedicated = { branch, rowId: row!.id };
      const migrated = await migrateDatabase(
        await provisioner.ownerUrl(branch),
        'tenant',
        rolesOf(env),
      );
      const [ready] = await db
        .update(control.branches)
        .set({ status: 'ready', schemaVersion: migrated.schemaVersion, migratedAt: new Date() })
        .where(eq(control.branches.id, row!.id))
        .returning();
      branchRow = ready!;
    } else {
      const [pool] = await db
        .select()
        .from(control.branches)
        .where(and(eq(control.branches.kind, 'pool'), eq(control.branches.status, 'ready')));
      if (!pool) throw new Error('no ready pool branch: run `npm run db:migrate` first');
      branchRow = pool;
    }

    const tenantId = crypto.randomUUID();
    const created = await db.transaction(async (tx) => {
      await tx.insert(control.tenants).values({
        id: tenantId,
        slug: input.slug,
        name: input.name.trim(),
        planKey,
        branchId: branchRow.id,
        ...(input.timezone ? { timezone: input.timezone } : {}),
      });
      await tx
        .insert(control.tenantDomains)
        .values(
          domains.map((hostname, i) => ({ tenantId, hostname, purpose: i === 0 ? 'app' : 'site' })),
        );
      await tx.insert(control.subscriptions).values({
        tenantId,
        planKey,
        startsOn: new Date().toISOString().slice(0, 10),
      });
      await tx.insert(control.platformAuditLog).values({
        actor: input.actor,
        action: 'tenant.create',
        tenantId,
        entityType: 'tenant',
        entityId: tenantId,
        after: {
          slug: input.slug,
          name: input.name,
          domains,
          placement: input.placement,
          plan: planKey,
        },
        requestId: input.requestId ?? null,
      });
      // Seeding commits on the branch before the control plane commits; if seeding fails,
      // the control-plane transaction rolls back with it.
      const seeded = await seedTenantDefaults(await toProvisioned(branchRow, env), {
        tenantId,
        name: input.name.trim(),
        slug: input.slug,
        adminEmail: email,
        adminPassword: input.adminPassword,
        adminName: input.adminName ?? 'Network Administrator',
        requestId: input.requestId,
      });
      return seeded;
    });
    return {
      id: tenantId,
      slug: input.slug,
      branch: branchRow.name,
      placement: input.placement,
      rootOrgUnitId: created.rootOrgUnitId,
      adminUserId: created.adminUserId,
    };
  } catch (err) {
    if (dedicated) {
      await provisioner.drop(dedicated.branch).catch(() => undefined);
      await db
        .delete(control.branches)
        .where(eq(control.branches.id, dedicated.rowId))
        .catch(() => undefined);
    }
    throw translateUnique(err);
  } finally {
    await close();
  }
}

/** A unique violation that raced past the up-front checks, as the same clear error. */
function translateUnique(err: unknown): unknown {
  // Drizzle wraps the driver's error; the SQLSTATE is on the cause.
  let e = err as { code?: string; constraint?: string; cause?: unknown };
  while (!e.code && e.cause) e = e.cause as typeof e;
  if (e.code === '23505' && e.constraint === 'tenants_slug_key') {
    return new PlatformError('duplicate_slug', 'slug is already taken');
  }
  if (e.code === '23505' && e.constraint === 'tenant_domains_hostname_key') {
    return new PlatformError('duplicate_domain', 'domain is already in use');
  }
  return err;
}

interface SeedInput {
  tenantId: string;
  name: string;
  slug: string;
  adminEmail: string;
  adminPassword: string;
  adminName: string;
  requestId?: string | undefined;
}

/** Seeds a new tenant's defaults on its branch as the app role, in one transaction. */
async function seedTenantDefaults(branch: ProvisionedBranch, input: SeedInput) {
  const t = tenantSchema;
  const { db, close } = await createDb({
    driver: 'pg',
    url: branch.appUrl,
    schema: tenantSchema,
    max: 1,
  });
  try {
    return await withTenant(db, input.tenantId, async (tx) => {
      const tenantId = input.tenantId;
      const [root] = await tx
        .insert(t.orgUnits)
        .values({ tenantId, kind: 'network', name: input.name, code: input.slug.toUpperCase() })
        .returning({ id: t.orgUnits.id });
      const perms = await tx
        .insert(t.permissions)
        .values(
          Object.entries(PERMISSIONS).map(([key, description]) => ({ tenantId, key, description })),
        )
        .returning({ id: t.permissions.id, key: t.permissions.key });
      const permId = new Map(perms.map((p) => [p.key, p.id]));
      const roleRows = await tx
        .insert(t.roles)
        .values(
          Object.entries(SYSTEM_ROLE_DEFINITIONS).map(([key, def]) => ({
            tenantId,
            key,
            name: def.name,
            description: def.description,
            isSystem: true,
          })),
        )
        .returning({ id: t.roles.id, key: t.roles.key });
      await tx.insert(t.rolePermissions).values(
        roleRows.flatMap((r) =>
          SYSTEM_ROLE_DEFINITIONS[r.key as keyof typeof SYSTEM_ROLE_DEFINITIONS].permissions.map(
            (p) => ({
              tenantId,
              roleId: r.id,
              permissionId: permId.get(p)!,
            }),
          ),
        ),
      );
      await tx.insert(t.funnelStages).values([
        ...t.DEFAULT_FUNNEL_STAGES.map((s, position) => ({
          tenantId,
          key: s.key,
          name: s.name,
          position,
        })),
        { tenantId, key: t.LOST_STAGE, name: 'Lost', position: 100, isTerminal: true },
      ]);
      await tx
        .insert(t.gradingScales)
        .values({ tenantId, name: 'Standard A–F', isDefault: true, bands: DEFAULT_GRADING_SCALE });
      const [first, ...rest] = input.adminName.trim().split(/\s+/);
      const [admin] = await tx
        .insert(t.users)
        .values({
          tenantId,
          email: input.adminEmail,
          passwordHash: await hashPassword(input.adminPassword),
          firstName: first ?? 'Network',
          lastName: rest.join(' ') || 'Administrator',
          status: 'active',
        })
        .returning({ id: t.users.id });
      const networkAdmin = roleRows.find((r) => r.key === 'network_admin')!;
      await tx.insert(t.userRoles).values({ tenantId, userId: admin!.id, roleId: networkAdmin.id });
      await tx.insert(t.auditLog).values({
        tenantId,
        actorKind: 'platform',
        action: 'tenant.provisioned',
        entityType: 'tenant',
        entityId: tenantId,
        after: { admin_user_id: admin!.id, root_org_unit_id: root!.id },
        requestId: input.requestId ?? null,
      });
      return { rootOrgUnitId: root!.id, adminUserId: admin!.id };
    });
  } finally {
    await close();
  }
}

/** Adds a hostname to a tenant, optionally bound to one of its schools (a school's own site). */
export async function addDomain(
  env: DbEnv,
  input: {
    slug: string;
    hostname: string;
    orgUnitId?: string;
    purpose?: 'site' | 'app';
    actor: string;
    requestId?: string;
  },
): Promise<{ hostname: string; tenantId: string }> {
  const hostname = normaliseHostname(input.hostname);
  const { db, close } = await openControl(env);
  try {
    const [tenant] = await db
      .select()
      .from(control.tenants)
      .where(eq(control.tenants.slug, input.slug));
    if (!tenant) throw new PlatformError('tenant_not_found', `no tenant "${input.slug}"`);
    if (input.orgUnitId) {
      const [branch] = await db
        .select()
        .from(control.branches)
        .where(eq(control.branches.id, tenant.branchId));
      const { db: tdb, close: tclose } = await createDb({
        driver: 'pg',
        url: (await toProvisioned(branch!, env)).appUrl,
        schema: tenantSchema,
        max: 1,
      });
      try {
        const found = await withTenant(tdb, tenant.id, (tx) =>
          tx
            .select({ id: tenantSchema.orgUnits.id })
            .from(tenantSchema.orgUnits)
            .where(eq(tenantSchema.orgUnits.id, input.orgUnitId!)),
        );
        if (!found[0])
          throw new PlatformError(
            'invalid_input',
            `no org unit ${input.orgUnitId} in tenant "${input.slug}"`,
          );
      } finally {
        await tclose();
      }
    }
    await db.transaction(async (tx) => {
      await tx.insert(control.tenantDomains).values({
        tenantId: tenant.id,
        hostname,
        orgUnitId: input.orgUnitId ?? null,
        purpose: input.purpose ?? 'site',
      });
      await tx.insert(control.platformAuditLog).values({
        actor: input.actor,
        action: 'tenant.add_domain',
        tenantId: tenant.id,
        entityType: 'tenant_domain',
        entityId: hostname,
        after: { hostname, org_unit_id: input.orgUnitId ?? null },
        requestId: input.requestId ?? null,
      });
    });
    return { hostname, tenantId: tenant.id };
  } catch (err) {
    throw translateUnique(err);
  } finally {
    await close();
  }
}

/** Suspends or reactivates a tenant. */
export async function setTenantStatus(
  env: DbEnv,
  input: { slug: string; status: 'active' | 'suspended'; actor: string; requestId?: string },
): Promise<void> {
  const { db, close } = await openControl(env);
  try {
    await db.transaction(async (tx) => {
      const [before] = await tx
        .select()
        .from(control.tenants)
        .where(eq(control.tenants.slug, input.slug))
        .for('update');
      if (!before) throw new PlatformError('tenant_not_found', `no tenant "${input.slug}"`);
      if (before.status === input.status) return;
      await tx
        .update(control.tenants)
        .set({
          status: input.status,
          suspendedAt: input.status === 'suspended' ? new Date() : null,
        })
        .where(eq(control.tenants.id, before.id));
      await tx.insert(control.platformAuditLog).values({
        actor: input.actor,
        action: input.status === 'suspended' ? 'tenant.suspend' : 'tenant.reactivate',
        tenantId: before.id,
        entityType: 'tenant',
        entityId: before.id,
        before: { status: before.status },
        after: { status: input.status },
        requestId: input.requestId ?? null,
      });
    });
  } finally {
    await close();
  }
}

export interface TenantSummary {
  id: string;
  slug: string;
  name: string;
  status: string;
  plan: string;
  branch: string;
  placement: string;
  domains: string[];
}

/** Every tenant with its branch and domains, by slug. */
export async function listTenants(env: DbEnv): Promise<TenantSummary[]> {
  const { db, close } = await openControl(env);
  try {
    const rows = await db
      .select({
        id: control.tenants.id,
        slug: control.tenants.slug,
        name: control.tenants.name,
        status: control.tenants.status,
        plan: control.tenants.planKey,
        branch: control.branches.name,
        placement: control.branches.kind,
        domains: sql<
          string[]
        >`coalesce(array_agg(${control.tenantDomains.hostname} order by ${control.tenantDomains.hostname}) filter (where ${control.tenantDomains.hostname} is not null), '{}')`,
      })
      .from(control.tenants)
      .innerJoin(control.branches, eq(control.branches.id, control.tenants.branchId))
      .leftJoin(control.tenantDomains, eq(control.tenantDomains.tenantId, control.tenants.id))
      .groupBy(control.tenants.id, control.branches.id)
      .orderBy(control.tenants.slug);
    return rows;
  } finally {
    await close();
  }
}

export { withDatabase };
