import { and, eq, inArray, sql } from 'drizzle-orm';
import { passwordWeakness } from '../passwords.js';
import * as control from '../schema/control.js';
import type { BranchKind, ProvisionedBranch } from '../branches/provisioner.js';
import { branchValues, toProvisioned, type BranchRow } from './branches.js';
import type { ControlDb, PlatformDeps } from './deps.js';
import { PlatformError, translateUnique } from './errors.js';
import { normaliseHostname, validateSlug } from './names.js';
import { verifyBranchSchema } from './schema-version.js';
import { seedTenantDefaults } from './seed-defaults.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface CreateTenantInput {
  slug: string;
  name: string;
  domains: string[];
  placement: BranchKind;
  plan?: string;
  adminEmail: string;
  /** Omitted: the admin is created `invited`, without a password (the CLI mails an invitation). */
  adminPassword?: string;
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
  if (input.adminPassword !== undefined) {
    const weak = passwordWeakness(input.adminPassword, [email.split('@')[0] ?? '', input.slug]);
    if (weak) throw new PlatformError('weak_password', `admin password ${weak}`);
  }
  if (input.domains.length === 0)
    throw new PlatformError('invalid_domain', 'at least one domain is required');
  const domains = [...new Set(input.domains.map(normaliseHostname))];
  return { domains, email };
}

/** Refuses the common conflicts (plan, slug, domains) before anything is provisioned. */
async function refuseConflicts(db: ControlDb, slug: string, planKey: string, domains: string[]) {
  const [plan] = await db.select().from(control.plans).where(eq(control.plans.key, planKey));
  if (!plan) throw new PlatformError('unknown_plan', `unknown plan "${planKey}"`);
  const [taken] = await db
    .select({ id: control.tenants.id })
    .from(control.tenants)
    .where(eq(control.tenants.slug, slug));
  if (taken) throw new PlatformError('duplicate_slug', `slug "${slug}" is already taken`);
  const clash = await db
    .select({ hostname: control.tenantDomains.hostname })
    .from(control.tenantDomains)
    .where(inArray(control.tenantDomains.hostname, domains));
  if (clash[0])
    throw new PlatformError('duplicate_domain', `domain "${clash[0].hostname}" is already in use`);
}

/** A dedicated branch made for a tenant being created, dropped again if creation fails. */
interface Dedicated {
  branch: ProvisionedBranch;
  rowId: string | null;
}

/**
 * The branch the tenant goes on: the ready pool, or a new dedicated copy of the template
 * whose schema is verified. `made` records a dedicated branch as soon as it exists, so the
 * caller can drop it when a later step fails.
 */
async function placeTenant(
  deps: PlatformDeps,
  input: CreateTenantInput,
  made: (dedicated: Dedicated) => void,
): Promise<BranchRow> {
  const { control: db, provisioner, secretKey } = deps;
  if (input.placement === 'dedicated') {
    const branch = await provisioner.create(`t-${input.slug}`);
    const dedicated: Dedicated = { branch, rowId: null };
    made(dedicated);
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
    return ready!;
  }
  const [pool] = await db
    .select()
    .from(control.branches)
    .where(and(eq(control.branches.kind, 'pool'), eq(control.branches.status, 'ready')));
  if (!pool) throw new Error('no ready pool branch: run `npm run db:migrate` first');
  return pool;
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
  let dedicated: Dedicated | null = null;
  try {
    await refuseConflicts(db, input.slug, planKey, domains);
    const branchRow = await placeTenant(deps, input, (d) => (dedicated = d));

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
        ...(input.adminPassword !== undefined ? { adminPassword: input.adminPassword } : {}),
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
    const made = dedicated as Dedicated | null;
    if (made) {
      await provisioner.drop(made.branch).catch(() => undefined);
      if (made.rowId) {
        await db
          .delete(control.branches)
          .where(eq(control.branches.id, made.rowId))
          .catch(() => undefined);
      }
    }
    throw translateUnique(err);
  }
}
