import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import * as t from '../../db/schema/tenant.js';
import type { OrgReach, ScopeRules } from '../auth/scope.js';
import { uuidList } from '../resources/sql.js';

/**
 * Which billing accounts a caller reaches, and through them invoices and payments:
 * - a parent: the accounts they are a guardian on (billing_account_guardians, or the
 *   primary guardian) — by the guardian record's user;
 * - an org role: an account whose school is within its reach, or one of whose guardians
 *   has a child at a school within its reach (a family with children at two schools is
 *   visible to both schools' offices; the account is one ledger);
 * - a tenant-wide role: every account.
 * Payments follow their account. Invoices follow their account for parents and tenant-wide
 * roles; an org role reaches an invoice by its student's school (else its own school, else
 * its account), so a school's office sees its own students' invoices of a shared family
 * and not those of the other school.
 */

/** Ids of the accounts the user is a guardian on. */
export const accountsOf = (userId: string): SQL => sql`(
  select bag.account_id from billing_account_guardians bag
  join guardians g on g.tenant_id = bag.tenant_id and g.id = bag.guardian_id and g.deleted_at is null
  where bag.deleted_at is null and g.user_id = ${userId}::uuid
  union
  select ba.id from billing_accounts ba
  join guardians g on g.tenant_id = ba.tenant_id and g.id = ba.primary_guardian_id and g.deleted_at is null
  where g.user_id = ${userId}::uuid)`;

/** Ids of the accounts within an org reach; undefined when the reach is the tenant. */
export function accountsWithin(reach: OrgReach): SQL | undefined {
  if (reach.all) return undefined;
  const ids = uuidList(reach.orgUnitIds);
  return sql`(
    select ba.id from billing_accounts ba where ba.school_id in ${ids}
    union
    select bag.account_id from billing_account_guardians bag
    join student_guardians sg on sg.tenant_id = bag.tenant_id and sg.guardian_id = bag.guardian_id
      and sg.deleted_at is null
    join students st on st.tenant_id = sg.tenant_id and st.id = sg.student_id and st.deleted_at is null
    where bag.deleted_at is null and st.school_id in ${ids})`;
}

/** Scope rules for rows keyed by an account id column. */
export function accountRules(accountId: PgColumn): ScopeRules {
  return {
    org: (reach) => {
      const within = accountsWithin(reach);
      return within && sql`${accountId} in ${within}`;
    },
    parent: (u) => sql`${accountId} in ${accountsOf(u)}`,
  };
}

/** Scope rules for invoices (see the top of this file). */
export const invoiceRules: ScopeRules = {
  ...accountRules(t.invoices.accountId),
  org: (reach) => {
    if (reach.all) return undefined;
    const ids = uuidList(reach.orgUnitIds);
    return sql`(case
      when ${t.invoices.studentId} is not null then ${t.invoices.studentId} in (
        select st.id from students st where st.school_id in ${ids})
      when ${t.invoices.schoolId} is not null then ${t.invoices.schoolId} in ${ids}
      else ${t.invoices.accountId} in ${accountsWithin(reach)!} end)`;
  },
};
