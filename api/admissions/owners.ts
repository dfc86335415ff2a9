import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import { RELATIONSHIP_ROLES } from '../auth/scope.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Whether the user may own a lead of this school: a user of this tenant, not disabled,
 * holding `leads.write` through an org role that reaches the school (a lead without a
 * school needs a tenant-wide grant). Row-level security keeps other tenants' users out.
 */
export async function mayOwnLead(
  tx: Tx<TenantSchema>,
  userId: string,
  schoolId: string | null,
): Promise<boolean> {
  const relationshipRoles = sql.join(
    [...RELATIONSHIP_ROLES].map((r) => sql`${r}`),
    sql`, `,
  );
  const reachesSchool = schoolId
    ? sql`ur.org_unit_id in (
        with recursive up(id, parent_id) as (
          select id, parent_id from org_units where id = ${schoolId}::uuid
          union
          select o.id, o.parent_id from org_units o join up on o.id = up.parent_id
        )
        select id from up)`
    : sql`false`;
  const rows = rowsOf<{ ok: boolean }>(
    await tx.execute(sql`
      select true as ok
      from users u
      join user_roles ur on ur.tenant_id = u.tenant_id and ur.user_id = u.id
        and ur.deleted_at is null
      join roles r on r.tenant_id = ur.tenant_id and r.id = ur.role_id and r.deleted_at is null
      join role_permissions rp on rp.tenant_id = r.tenant_id and rp.role_id = r.id
      join permissions p on p.tenant_id = rp.tenant_id and p.id = rp.permission_id
      where u.id = ${userId}::uuid and u.deleted_at is null and u.status <> 'disabled'
        and p.key = 'leads.write' and r.key not in (${relationshipRoles})
        and (ur.org_unit_id is null or ${reachesSchool})
      limit 1`),
  );
  return rows.length > 0;
}
