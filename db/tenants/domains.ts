import { and, eq, inArray, sql } from 'drizzle-orm';
import {
  findProof,
  newVerificationToken,
  type VerificationMethod,
  type VerificationSettings,
} from '../domain-verification.js';
import { isUuid } from '../ids.js';
import { withTenant } from '../tenancy.js';
import * as control from '../schema/control.js';
import * as tenantSchema from '../schema/tenant.js';
import { toProvisioned } from './branches.js';
import type { PlatformDeps } from './deps.js';
import { tenantBySlug } from './directory.js';
import { PlatformError, translateUnique } from './errors.js';
import { normaliseHostname } from './names.js';

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
