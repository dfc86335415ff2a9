import { eq, sql } from 'drizzle-orm';
import * as control from '../schema/control.js';
import type { ControlDb, PlatformDeps } from './deps.js';
import { PlatformError } from './errors.js';

/** Reading tenants off the control plane: one by slug, or all with their branch and domains. */

/** The tenant row with this slug; `tenant_not_found` when there is none. */
export async function tenantBySlug(db: ControlDb, slug: string) {
  const [tenant] = await db.select().from(control.tenants).where(eq(control.tenants.slug, slug));
  if (!tenant) throw new PlatformError('tenant_not_found', `no tenant "${slug}"`);
  return tenant;
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
