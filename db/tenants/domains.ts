import { and, eq, inArray, sql } from 'drizzle-orm';
import { withTenant } from '../tenancy.js';
import * as control from '../schema/control.js';
import * as tenantSchema from '../schema/tenant.js';
import { toProvisioned } from './branches.js';
import type { PlatformDeps } from './deps.js';
import { tenantBySlug } from './directory.js';
import { PlatformError, translateUnique } from './errors.js';
import { normaliseHostname } from './names.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AddDomainInput {
  slug: string;
  hostname: string;
  /** A school of the tenant: the domain becomes that school's own site. */
  orgUnitId?: string;
  purpose?: 'site' | 'app';
  actor: string;
  requestId?: string;
}

export interface AddedDomain {
  hostname: string;
  tenantId: string;
  orgUnitId: string | null;
  purpose: 'site' | 'app';
}

/** Adds a hostname to a tenant, optionally bound to one of its schools (a school's own site). */
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
      if (!UUID.test(orgUnitId)) throw noSchool;
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
    await db.transaction(async (tx) => {
      await tx.insert(control.tenantDomains).values({
        tenantId: tenant.id,
        hostname,
        orgUnitId,
        purpose,
      });
      await tx.insert(control.platformAuditLog).values({
        actor: input.actor,
        action: 'tenant.add_domain',
        tenantId: tenant.id,
        entityType: 'tenant_domain',
        entityId: hostname,
        after: { hostname, org_unit_id: orgUnitId, purpose },
        requestId: input.requestId ?? null,
      });
    });
    return { hostname, tenantId: tenant.id, orgUnitId, purpose };
  } catch (err) {
    throw translateUnique(err);
  }
}
