import { inArray, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Tx } from '../../db/connection.js';
import { rowsOf } from '../../db/connection.js';
import type { TenantSchema } from '../../db/schema/types.js';
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

/**
 * How one resource's rows relate to callers, per kind of role. Each rule yields a WHERE
 * condition on the resource's table; a rule left out means that kind of role reaches none
 * of the rows through a relationship (its permission alone is not enough).
 */
export interface ScopeRules {
  /** Org roles: rows within the reach; `reach.all` callers see every row when omitted. */
  org?: (reach: OrgReach) => SQL | undefined;
  /** Teachers and coaches, by the caller's user id. */
  teacher?: (userId: string) => SQL;
  /** Parents, by the caller's user id. */
  parent?: (userId: string) => SQL;
  /** Students, by the caller's user id. */
  student?: (userId: string) => SQL;
}

/**
 * The rows a caller may touch with `permission`: the OR of what each of their roles that
 * holds the permission reaches. Undefined means no limit (tenant-wide); `false` means none.
 */
export async function rowScope(
  tx: Tx<TenantSchema>,
  principal: Principal,
  permission: string,
  rules: ScopeRules,
): Promise<SQL | undefined> {
  const parts: SQL[] = [];
  const holds = (role: string) =>
    principal.grants.some((g) => g.role === role && g.permissions.includes(permission));
  const hasOrgGrant = principal.grants.some(
    (g) => !RELATIONSHIP_ROLES.has(g.role) && g.permissions.includes(permission),
  );
  if (hasOrgGrant) {
    const reach = await orgReach(tx, principal, permission);
    const condition = rules.org ? rules.org(reach) : reach.all ? undefined : sql`false`;
    if (condition === undefined) return undefined;
    parts.push(condition);
  }
  if (rules.teacher && (holds('teacher') || holds('coach')))
    parts.push(rules.teacher(principal.userId));
  if (rules.parent && holds('parent')) parts.push(rules.parent(principal.userId));
  if (rules.student && holds('student')) parts.push(rules.student(principal.userId));
  if (parts.length === 0) return sql`false`;
  return parts.length === 1 ? parts[0] : sql`(${sql.join(parts, sql` or `)})`;
}

/** True when the caller's org grants holding `permission` reach the whole tenant. */
export async function tenantWide(
  tx: Tx<TenantSchema>,
  principal: Principal,
  permission: string,
): Promise<boolean> {
  return (await orgReach(tx, principal, permission)).all;
}

/** Ids of the classes the user teaches (class_teachers → staff.user_id). */
export const classesTaughtBy = (userId: string): SQL => sql`(
  select ct.class_id from class_teachers ct
  join staff s on s.tenant_id = ct.tenant_id and s.id = ct.staff_id and s.deleted_at is null
  where ct.deleted_at is null and s.user_id = ${userId}::uuid)`;

/** Ids of the students enrolled in the classes the user teaches. */
export const studentsTaughtBy = (userId: string): SQL => sql`(
  select ce.student_id from class_enrollments ce
  where ce.deleted_at is null and ce.class_id in ${classesTaughtBy(userId)})`;

/** Ids of the user's own children (student_guardians → guardians.user_id). */
export const childrenOf = (userId: string): SQL => sql`(
  select sg.student_id from student_guardians sg
  join guardians g on g.tenant_id = sg.tenant_id and g.id = sg.guardian_id and g.deleted_at is null
  where sg.deleted_at is null and g.user_id = ${userId}::uuid)`;

/** Ids of the student records of the user themself. */
export const selfAsStudent = (userId: string): SQL => sql`(
  select st.id from students st where st.deleted_at is null and st.user_id = ${userId}::uuid)`;

/** Ids of the students whose school is within the reach. */
export const studentsWithin = (reach: OrgReach): SQL | undefined => {
  if (reach.all) return undefined;
  return sql`(select st.id from students st where st.deleted_at is null and st.school_id in ${idList(reach.orgUnitIds)})`;
};

/** `(id, …)` of uuids for `in`; `(null)` when empty, which matches nothing. */
function idList(ids: readonly string[]): SQL {
  if (ids.length === 0) return sql`(null::uuid)`;
  return sql`(${sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  )})`;
}

/** Scope rules for rows keyed by a student id column (students.id, attendance.student_id…). */
export function studentRules(studentId: PgColumn, schoolId?: PgColumn): ScopeRules {
  return {
    org: (reach) => {
      if (schoolId) return withinReach(reach, schoolId);
      const within = studentsWithin(reach);
      return within && sql`${studentId} in ${within}`;
    },
    teacher: (u) => sql`${studentId} in ${studentsTaughtBy(u)}`,
    parent: (u) => sql`${studentId} in ${childrenOf(u)}`,
    student: (u) => sql`${studentId} in ${selfAsStudent(u)}`,
  };
}

/** Scope rules for rows keyed by a class id column (classes.id, assignments.class_id…). */
export function classRules(classId: PgColumn, schoolId?: PgColumn): ScopeRules {
  const enrolledIn = (students: SQL) => sql`${classId} in (
    select ce.class_id from class_enrollments ce
    where ce.deleted_at is null and ce.student_id in ${students})`;
  return {
    org: (reach) => {
      if (schoolId) return withinReach(reach, schoolId);
      if (reach.all) return undefined;
      return sql`${classId} in (select c.id from classes c where c.school_id in ${idList(reach.orgUnitIds)})`;
    },
    teacher: (u) => sql`${classId} in ${classesTaughtBy(u)}`,
    parent: (u) => enrolledIn(childrenOf(u)),
    student: (u) => enrolledIn(selfAsStudent(u)),
  };
}

/** Scope rules for guardians: those of students in scope, plus a parent themself. */
export function guardianRules(guardianId: PgColumn, guardianUserId: PgColumn): ScopeRules {
  const ofStudents = (students: SQL) => sql`${guardianId} in (
    select sg.guardian_id from student_guardians sg
    where sg.deleted_at is null and sg.student_id in ${students})`;
  return {
    org: (reach) => {
      const within = studentsWithin(reach);
      if (!within) return undefined;
      // A guardian linked to no student yet belongs to the tenant, not a school: visible to
      // every org role, so an office can create a guardian and then link them.
      return sql`(${ofStudents(within)} or not exists (
        select 1 from student_guardians sg
        where sg.deleted_at is null and sg.guardian_id = ${guardianId}))`;
    },
    teacher: (u) => ofStudents(studentsTaughtBy(u)),
    parent: (u) => sql`${guardianUserId} = ${u}::uuid`,
  };
}
