import { inArray, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Tx } from '../../db/connection.js';
import { rowsOf } from '../../db/connection.js';
import type { TenantSchema } from '../services.js';
import type { Principal } from './principal.js';

/**
 * Relationship scoping. Permissions say what kind of thing a caller may touch; scopes say
 * which rows. Roles come in two kinds:
 * - org roles (network admin, principal, office admin, platform admin, custom roles) reach
 *   the subtree of the org unit their grant is scoped to, or the whole tenant when unscoped;
 * - relationship roles reach people through relationships: a teacher or coach the students
 *   of their own classes, a parent their own children, a student themself.
 * Routes declare a scope per resource; rows outside it are filtered in SQL, so a row the
 * caller may not see is indistinguishable from a missing one (404).
 */
export const RELATIONSHIP_ROLES: ReadonlySet<string> = new Set([
  'teacher',
  'coach',
  'parent',
  'student',
]);

export type OrgReach = { all: true } | { all: false; orgUnitIds: string[] };

/** The org units a caller's org-role grants holding `permission` reach. */
export async function orgReach(
  tx: Tx<TenantSchema>,
  principal: Principal,
  permission: string,
): Promise<OrgReach> {
  const grants = principal.grants.filter(
    (g) => !RELATIONSHIP_ROLES.has(g.role) && g.permissions.includes(permission),
  );
  if (grants.some((g) => g.orgUnitId === null)) return { all: true };
  const roots = [...new Set(grants.map((g) => g.orgUnitId!))];
  if (roots.length === 0) return { all: false, orgUnitIds: [] };
  const rows = rowsOf<{ id: string }>(
    await tx.execute(sql`
      with recursive reach(id) as (
        select id from org_units where id in ${sql`(${sql.join(
          roots.map((r) => sql`${r}::uuid`),
          sql`, `,
        )})`}
        union
        select o.id from org_units o join reach r on o.parent_id = r.id
      )
      select id::text from reach`),
  );
  return { all: false, orgUnitIds: rows.map((r) => r.id) };
}

/** A WHERE condition limiting `column` (an org unit id) to the reach; undefined = no limit. */
export function withinReach(reach: OrgReach, column: PgColumn): SQL | undefined {
  if (reach.all) return undefined;
  if (reach.orgUnitIds.length === 0) return sql`false`;
  return inArray(column, reach.orgUnitIds);
}
