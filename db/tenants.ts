import { and, asc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import { rowsOf, type Db, type DbHandle, type DbSchema } from './connection.js';
import {
  findProof,
  newVerificationToken,
  type VerificationMethod,
  type VerificationSettings,
} from './domain-verification.js';
import type { DbEnv } from './env.js';
import { hashPassword, passwordWeakness } from './passwords.js';
import { decryptSecret, encryptSecret } from './secrets.js';
import { withTenant } from './tenancy.js';
import { DEFAULT_GRADING_SCALE, PERMISSIONS, SYSTEM_ROLE_DEFINITIONS } from './tenant-defaults.js';
import * as control from './schema/control.js';
import * as tenantSchema from './schema/tenant.js';
import type { ControlDb, ControlSchema } from './schema/types.js';
import {
  databaseOf,
  LocalProvisioner,
  sqlStateOf,
  withDatabase,
  type ClusterSql,
} from './branches/local.js';
import { neonProvisionerFromEnv } from './branches/neon.js';
import type { BranchKind, BranchProvisioner, ProvisionedBranch } from './branches/provisioner.js';
import tenantJournal from './migrations/tenant/meta/_journal.json' with { type: 'json' };
import { isUuid } from './ids.js';

/**
 * Tenant provisioning on the control plane and the branches — create and place tenants,
 * add domains, suspend, read usage — with no Node-only imports, so the platform API runs
 * it on workerd as well as on Node. Everything that touches a database arrives injected:
 * an `OpenDb` (the Neon driver on workerd, `pg` on Node), the control-plane handle and a
 * branch provisioner. Migrations need the SQL files on disk and stay in db/platform.ts.
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
  | 'invalid_input'
  | 'schema_mismatch'
  | 'domain_not_found'
  | 'domain_unverified';

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

export type { ControlDb, ControlSchema };

/** Opens a drizzle handle on a database URL; the caller closes it. */
export type OpenDb = <S extends DbSchema>(
  url: string,
  schema: S,
  max: number,
) => Promise<DbHandle<S>>;

/** What the operations below need; both runtimes build one (db/platform.ts, api/runtime). */
export interface PlatformDeps {
  /** The control plane, connected with rights to write it. */
  control: ControlDb;
  /** Opens branch connections (seeding, checks); every handle opened is closed again. */
  open: OpenDb;
  provisioner: BranchProvisioner;
  /** BRANCH_SECRET_KEY: branch connection secrets are encrypted with it at rest. */
  secretKey: string;
}

/** Slug of the default operator tenant: reserved for `--platform-admin` creation. */
export const OPERATOR_SLUG = 'homeroom';

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
  OPERATOR_SLUG,
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

interface JournalEntry {
  when: number;
  tag: string;
}
const TENANT_MIGRATIONS: readonly JournalEntry[] = (tenantJournal as { entries: JournalEntry[] })
  .entries;

/** Tag of the newest tenant migration bundled with this code: what every branch must be at. */
export const BUNDLED_TENANT_SCHEMA_VERSION: string = (() => {
  const last = TENANT_MIGRATIONS.at(-1);
  if (!last) throw new Error('no tenant migrations bundled');
  return last.tag;
})();

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

/**
 * Refuses malformed and reserved slugs. The operator slug is reserved so that no school
 * can take the name the platform surface answers on; only operator creation may use it.
 */
export function validateSlug(slug: string, options: { operator?: boolean } = {}): void {
  if (!SLUG.test(slug)) {
    throw new PlatformError(
      'invalid_slug',
      `invalid slug "${slug}": 3–40 characters, lower-case letters, digits and hyphens, starting with a letter`,
    );
  }
  if (RESERVED_SLUGS.has(slug) && !(options.operator && slug === OPERATOR_SLUG))
    throw new PlatformError('invalid_slug', `slug "${slug}" is reserved`);
}

/** CREATE/DROP DATABASE on the cluster's `postgres` database, through any driver. */
export function clusterSql(open: OpenDb, adminUrl: string): ClusterSql {
  return async (statement) => {
    const { db, close } = await open(withDatabase(adminUrl, 'postgres'), {}, 1);
    try {
      return rowsOf(await db.execute(statement));
    } finally {
      await close();
    }
  };
}

/** The provisioner the environment names, opening connections with `open`. */
export function provisionerFor(env: DbEnv, open: OpenDb): BranchProvisioner {
  if (env.BRANCH_PROVIDER === 'neon') return neonProvisionerFromEnv(env);
  return new LocalProvisioner({
    adminUrl: env.DATABASE_URL,
    cluster: clusterSql(open, env.DATABASE_URL),
    prefix: databaseOf(env.DATABASE_URL),
    ownerRole: env.OWNER_DB_ROLE,
    appRole: env.APP_DB_ROLE,
    appPassword: env.APP_DB_PASSWORD,
  });
}

export type BranchRow = typeof control.branches.$inferSelect;

/** A branch row as the provisioner knows it, with its connection secret decrypted. */
export async function toProvisioned(row: BranchRow, secretKey: string): Promise<ProvisionedBranch> {
  return {
    name: row.name,
    provider: row.provider as ProvisionedBranch['provider'],
    databaseName: row.databaseName,
    appUrl: await decryptSecret(row.connectionSecret, secretKey),
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

/** Column values recording a provisioned branch, its secret encrypted. */
export async function branchValues(branch: ProvisionedBranch, kind: BranchKind, secretKey: string) {
  return {
    name: branch.name,
    kind,
    provider: branch.provider,
    databaseName: branch.databaseName,
    connectionSecret: await encryptSecret(branch.appUrl, secretKey),
    neonProjectId: branch.neon?.projectId ?? null,
    neonBranchId: branch.neon?.branchId ?? null,
    neonEndpointId: branch.neon?.endpointId ?? null,
  };
}

/**
 * Checks that a branch copied from the template carries exactly the schema bundled with
 * this code, reading drizzle's migration journal through the owner connection. A new
 * branch is a copy of the template, so a mismatch means the template was not migrated
 * (or the code is older than the database): provisioning must stop rather than seed a
 * branch the app cannot use. Returns the schema version.
 */
export async function verifyBranchSchema(open: OpenDb, ownerUrl: string): Promise<string> {
  const { db, close } = await open(ownerUrl, {}, 1);
  let applied: number[];
  try {
    const rows = rowsOf<{ created_at: string | number | null }>(
      await db.execute(sql`select created_at from drizzle.__drizzle_migrations`),
    );
    applied = rows.map((r) => Number(r.created_at)).filter((n) => Number.isFinite(n));
  } catch (err) {
    // No drizzle schema or table: the template was never migrated.
    if (!['3F000', '42P01'].includes(sqlStateOf(err) ?? '')) throw err;
    applied = [];
  } finally {
    await close();
  }
  const latest = applied.length ? Math.max(...applied) : null;
  const tagAt = (when: number | null) =>
    when === null
      ? 'no schema'
      : (TENANT_MIGRATIONS.find((m) => m.when === when)?.tag ?? 'unknown');
  const expected = TENANT_MIGRATIONS.at(-1)!;
  const missing = TENANT_MIGRATIONS.filter((m) => !applied.includes(m.when));
  if (latest === expected.when && missing.length === 0) return expected.tag;
  if (latest !== null && latest > expected.when) {
    throw new PlatformError(
      'schema_mismatch',
      `the template branch is at schema ${tagAt(latest)}, newer than this code (${expected.tag}): deploy the current code`,
    );
  }
  throw new PlatformError(
    'schema_mismatch',
    `the template branch is at schema ${tagAt(latest)} but this code needs ${expected.tag}: run npm run db:migrate`,
  );
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
  /** Operator tenant: the first admin also gets `platform_admin` (and the operator slug is allowed). */
  platformAdmin?: boolean;
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
  validateSlug(input.slug, { operator: input.platformAdmin === true });
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
 * Creates a tenant: places it on the pool or a new dedicated branch (a copy of the
 * template, whose schema version is verified), seeds its default roles, permissions,
 * funnel stages and grading scale, and creates its first admin. The control-plane rows
 * commit only after the branch is seeded, and a dedicated branch made for a tenant that
 * then fails is dropped again: nothing is left half-created.
 */
export async function createTenant(
  deps: PlatformDeps,
  input: CreateTenantInput,
): Promise<CreatedTenant> {
  const { domains, email } = validateCreate(input);
  const planKey = input.plan ?? 'school';
  const { control: db, provisioner, secretKey } = deps;
  let dedicated: { branch: ProvisionedBranch; rowId: string | null } | null = null;
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
      dedicated = { branch, rowId: null };
      const [row] = await db
        .insert(control.branches)
        .values({ ...(await branchValues(branch, 'dedicated', secretKey)), status: 'provisioning' })
        .returning();
      dedicated.rowId = row!.id;
      const version = await verifyBranchSchema(deps.open, await provisioner.ownerUrl(branch));
      const [ready] = await db
        .update(control.branches)
        .set({ status: 'ready', schemaVersion: version, migratedAt: new Date() })
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
    const seeded = await db.transaction(async (tx) => {
      await tx.insert(control.tenants).values({
        id: tenantId,
        slug: input.slug,
        name: input.name.trim(),
        planKey,
        branchId: branchRow.id,
        ...(input.timezone ? { timezone: input.timezone } : {}),
      });
      await tx.insert(control.tenantDomains).values(
        // The operator names these domains while creating the tenant and vouches for them.
        domains.map((hostname, i) => ({
          tenantId,
          hostname,
          purpose: i === 0 ? 'app' : 'site',
          verifiedAt: sql`now()`,
        })),
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
          ...(input.platformAdmin ? { platform_admin: true } : {}),
        },
        requestId: input.requestId ?? null,
      });
      // Seeding commits on the branch before the control plane commits; if seeding fails,
      // the control-plane transaction rolls back with it.
      return seedTenantDefaults(deps.open, await toProvisioned(branchRow, secretKey), {
        tenantId,
        name: input.name.trim(),
        slug: input.slug,
        adminEmail: email,
        adminPassword: input.adminPassword,
        adminName: input.adminName ?? 'Network Administrator',
        platformAdmin: input.platformAdmin === true,
        requestId: input.requestId,
      });
    });
    return {
      id: tenantId,
      slug: input.slug,
      branch: branchRow.name,
      placement: input.placement,
      rootOrgUnitId: seeded.rootOrgUnitId,
      adminUserId: seeded.adminUserId,
    };
  } catch (err) {
    if (dedicated) {
      await provisioner.drop(dedicated.branch).catch(() => undefined);
      if (dedicated.rowId) {
        await db
          .delete(control.branches)
          .where(eq(control.branches.id, dedicated.rowId))
          .catch(() => undefined);
      }
    }
    throw translateUnique(err);
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
  platformAdmin: boolean;
  requestId?: string | undefined;
}

/** Seeds a new tenant's defaults on its branch as the app role, in one transaction. */
async function seedTenantDefaults(open: OpenDb, branch: ProvisionedBranch, input: SeedInput) {
  const t = tenantSchema;
  const { db, close } = await open(branch.appUrl, tenantSchema, 1);
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
      const granted = input.platformAdmin ? ['network_admin', 'platform_admin'] : ['network_admin'];
      await tx.insert(t.userRoles).values(
        granted.map((key) => ({
          tenantId,
          userId: admin!.id,
          roleId: roleRows.find((r) => r.key === key)!.id,
        })),
      );
      await tx.insert(t.auditLog).values({
        tenantId,
        actorKind: 'platform',
        action: 'tenant.provisioned',
        entityType: 'tenant',
        entityId: tenantId,
        after: {
          admin_user_id: admin!.id,
          root_org_unit_id: root!.id,
          admin_roles: granted,
        },
        requestId: input.requestId ?? null,
      });
      return { rootOrgUnitId: root!.id, adminUserId: admin!.id };
    });
  } finally {
    await close();
  }
}

async function tenantBySlug(db: ControlDb, slug: string) {
  const [tenant] = await db.select().from(control.tenants).where(eq(control.tenants.slug, slug));
  if (!tenant) throw new PlatformError('tenant_not_found', `no tenant "${slug}"`);
  return tenant;
}

export interface AddDomainInput {
  slug: string;
  hostname: string;
  /** A school of the tenant: the domain becomes that school's own site. */
  orgUnitId?: string;
  purpose?: 'site' | 'app';
  /**
   * The operator vouches for the domain (the CLI's `--verified`): it serves at once. Otherwise
   * it serves only after {@link verifyDomain} finds the token published.
   */
  verified?: boolean;
  actor: string;
  requestId?: string;
}

export interface AddedDomain {
  hostname: string;
  tenantId: string;
  orgUnitId: string | null;
  purpose: 'site' | 'app';
  verifiedAt: Date | null;
  /** What to publish to prove control; null when vouched for. */
  verificationToken: string | null;
}

/**
 * Adds a hostname to a tenant, optionally bound to one of its schools (a school's own site).
 * It starts unverified, with a token to publish, unless the operator vouches for it.
 */
export async function addDomain(deps: PlatformDeps, input: AddDomainInput): Promise<AddedDomain> {
  const hostname = normaliseHostname(input.hostname);
  const purpose = input.purpose ?? 'site';
  const orgUnitId = input.orgUnitId ?? null;
  const db = deps.control;
  try {
    const tenant = await tenantBySlug(db, input.slug);
    if (orgUnitId) {
      const noSchool = new PlatformError(
        'invalid_input',
        `no school ${orgUnitId} in tenant "${input.slug}"`,
      );
      if (!isUuid(orgUnitId)) throw noSchool;
      const [branch] = await db
        .select()
        .from(control.branches)
        .where(eq(control.branches.id, tenant.branchId));
      const { appUrl } = await toProvisioned(branch!, deps.secretKey);
      const { db: tdb, close } = await deps.open(appUrl, tenantSchema, 1);
      try {
        const o = tenantSchema.orgUnits;
        const found = await withTenant(tdb, tenant.id, (tx) =>
          tx
            .select({ id: o.id })
            .from(o)
            .where(
              and(
                eq(o.id, orgUnitId),
                inArray(o.kind, [...tenantSchema.SCHOOL_KINDS]),
                sql`${o.deletedAt} is null`,
              ),
            ),
        );
        if (!found[0]) throw noSchool;
      } finally {
        await close();
      }
    }
    const verificationToken = input.verified ? null : newVerificationToken();
    const verifiedAt = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(control.tenantDomains)
        .values({
          tenantId: tenant.id,
          hostname,
          orgUnitId,
          purpose,
          verificationToken,
          ...(input.verified ? { verifiedAt: sql`now()` } : {}),
        })
        .returning({ verifiedAt: control.tenantDomains.verifiedAt });
      await tx.insert(control.platformAuditLog).values({
        actor: input.actor,
        action: 'tenant.add_domain',
        tenantId: tenant.id,
        entityType: 'tenant_domain',
        entityId: hostname,
        after: { hostname, org_unit_id: orgUnitId, purpose, verified: Boolean(input.verified) },
        requestId: input.requestId ?? null,
      });
      return row!.verifiedAt;
    });
    return { hostname, tenantId: tenant.id, orgUnitId, purpose, verifiedAt, verificationToken };
  } catch (err) {
    throw translateUnique(err);
  }
}

export interface VerifyDomainInput {
  slug: string;
  hostname: string;
  actor: string;
  requestId?: string;
}

export interface VerifiedDomain {
  hostname: string;
  verifiedAt: Date;
  /** How control was proven now; null when the domain was verified already. */
  method: VerificationMethod | null;
}

/**
 * Checks a tenant's unverified domain for its published token (DNS TXT, else the proof
 * file) and marks it verified: from then on it resolves to the tenant and counts as its
 * site. A verified domain answers as it is. No proof → `domain_unverified`, nothing changes.
 */
export async function verifyDomain(
  deps: Pick<PlatformDeps, 'control'>,
  settings: VerificationSettings,
  input: VerifyDomainInput,
): Promise<VerifiedDomain> {
  const hostname = normaliseHostname(input.hostname);
  const db = deps.control;
  const tenant = await tenantBySlug(db, input.slug);
  const d = control.tenantDomains;
  const where = and(
    eq(d.tenantId, tenant.id),
    eq(d.hostname, hostname),
    sql`${d.deletedAt} is null`,
  );
  const [domain] = await db
    .select({ verifiedAt: d.verifiedAt, token: d.verificationToken })
    .from(d)
    .where(where);
  if (!domain) {
    throw new PlatformError('domain_not_found', `no domain ${hostname} in tenant "${input.slug}"`);
  }
  if (domain.verifiedAt) return { hostname, verifiedAt: domain.verifiedAt, method: null };
  // The network checks run outside any transaction: a slow site holds no connection.
  const method = domain.token ? await findProof(settings, hostname, domain.token) : null;
  if (!method) {
    throw new PlatformError(
      'domain_unverified',
      `${hostname} is not verified yet: publish the token as a TXT record or the proof file, then verify again`,
    );
  }
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(d)
      .set({ verifiedAt: sql`now()`, verificationToken: null })
      .where(and(where, sql`${d.verifiedAt} is null`, eq(d.verificationToken, domain.token!)))
      .returning({ verifiedAt: d.verifiedAt });
    if (!row) {
      // Verified (or re-added) concurrently: answer with what is there now.
      const [now] = await tx.select({ verifiedAt: d.verifiedAt }).from(d).where(where);
      if (now?.verifiedAt) return { hostname, verifiedAt: now.verifiedAt, method: null };
      throw new PlatformError(
        'domain_not_found',
        `no domain ${hostname} in tenant "${input.slug}"`,
      );
    }
    await tx.insert(control.platformAuditLog).values({
      actor: input.actor,
      action: 'tenant.verify_domain',
      tenantId: tenant.id,
      entityType: 'tenant_domain',
      entityId: hostname,
      after: { hostname, method },
      requestId: input.requestId ?? null,
    });
    return { hostname, verifiedAt: row.verifiedAt!, method };
  });
}

export interface SetStatusInput {
  slug: string;
  status: 'active' | 'suspended';
  actor: string;
  requestId?: string;
}

/** Suspends or reactivates a tenant; `changed` is false when it already had that status. */
export async function setTenantStatus(
  deps: PlatformDeps,
  input: SetStatusInput,
): Promise<{ tenantId: string; changed: boolean }> {
  return deps.control.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(control.tenants)
      .where(eq(control.tenants.slug, input.slug))
      .for('update');
    if (!before) throw new PlatformError('tenant_not_found', `no tenant "${input.slug}"`);
    if (before.status === input.status) return { tenantId: before.id, changed: false };
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
    return { tenantId: before.id, changed: true };
  });
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
  /** Each domain with its purpose, school and verification state, by hostname. */
  domainDetails: DomainDetail[];
}

export interface DomainDetail {
  hostname: string;
  purpose: string;
  orgUnitId: string | null;
  verifiedAt: string | null;
  verificationToken: string | null;
}

function summaries(db: ControlDb) {
  return db
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
      domainDetails: sql<DomainDetail[]>`coalesce(json_agg(json_build_object(
          'hostname', ${control.tenantDomains.hostname},
          'purpose', ${control.tenantDomains.purpose},
          'orgUnitId', ${control.tenantDomains.orgUnitId},
          'verifiedAt', to_char(${control.tenantDomains.verifiedAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'verificationToken', ${control.tenantDomains.verificationToken}
        ) order by ${control.tenantDomains.hostname}) filter (where ${control.tenantDomains.hostname} is not null), '[]')`,
    })
    .from(control.tenants)
    .innerJoin(control.branches, eq(control.branches.id, control.tenants.branchId))
    .leftJoin(control.tenantDomains, eq(control.tenantDomains.tenantId, control.tenants.id))
    .groupBy(control.tenants.id, control.branches.id)
    .$dynamic();
}

/** Every tenant with its branch and domains, by slug. */
export async function listTenants(deps: Pick<PlatformDeps, 'control'>): Promise<TenantSummary[]> {
  return summaries(deps.control).orderBy(control.tenants.slug);
}

/** One tenant with its branch and domains. */
export async function getTenant(
  deps: Pick<PlatformDeps, 'control'>,
  slug: string,
): Promise<TenantSummary> {
  const [row] = await summaries(deps.control).where(eq(control.tenants.slug, slug));
  if (!row) throw new PlatformError('tenant_not_found', `no tenant "${slug}"`);
  return row;
}

/** Kinds of API call counted per tenant and day. */
export type UsageKind = 'public' | 'api' | 'write';

export interface UsageCount {
  tenantId: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  kind: UsageKind;
  count: number;
}

/**
 * Adds counts to the daily usage counters in one statement. Rows are sorted so that two
 * writers upserting overlapping keys lock them in the same order and cannot deadlock.
 */
export async function addUsage(db: ControlDb, counts: UsageCount[]): Promise<void> {
  const rows = counts
    .filter((c) => c.count > 0)
    .sort((a, b) =>
      `${a.tenantId}|${a.day}|${a.kind}`.localeCompare(`${b.tenantId}|${b.day}|${b.kind}`),
    );
  if (rows.length === 0) return;
  const u = control.apiUsage;
  await db
    .insert(u)
    .values(rows)
    .onConflictDoUpdate({
      target: [u.tenantId, u.day, u.kind],
      set: { count: sql`${u.count} + excluded.count`, updatedAt: sql`now()` },
    });
}

/** A tenant's daily usage counters between two days (inclusive), by day and kind. */
export async function tenantUsage(
  deps: Pick<PlatformDeps, 'control'>,
  input: { slug: string; from: string; to: string },
): Promise<{ tenantId: string; rows: { day: string; kind: string; count: number }[] }> {
  const tenant = await tenantBySlug(deps.control, input.slug);
  const u = control.apiUsage;
  const rows = await deps.control
    .select({ day: u.day, kind: u.kind, count: u.count })
    .from(u)
    .where(and(eq(u.tenantId, tenant.id), gte(u.day, input.from), lte(u.day, input.to)))
    .orderBy(asc(u.day), asc(u.kind));
  return { tenantId: tenant.id, rows };
}
