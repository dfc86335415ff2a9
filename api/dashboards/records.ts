/**
 * The records a list links to: a student (who, where, attendance and current grades over
 * the window) and a family's billing account (its open invoices). Each read limited by the
 * caller's scope conditions, built by the route.
 */
import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { studentAttendance } from '../attendance/student-attendance.js';
import { classGradesSql } from './lists.js';

export interface StudentRecordInput {
  id: string;
  /** Scope on `students` (undefined: the tenant). */
  scope: SQL | undefined;
  /** Scope on `classes` for the grades shown. */
  classScope: SQL | undefined;
  from: string;
  to: string;
  tenantZone: string;
}

export async function studentRecord(tx: Tx<TenantSchema>, input: StudentRecordInput) {
  const [student] = rowsOf<{
    id: string;
    first_name: string;
    last_name: string;
    preferred_name: string | null;
    student_number: string;
    grade_level: string;
    status: string;
    school: string | null;
  }>(
    await tx.execute(sql`
      select students.id::text as id, students.first_name, students.last_name,
             students.preferred_name, students.student_number, students.grade_level,
             students.status, o.name as school
        from students left join org_units o on o.id = students.school_id
       where students.id = ${input.id}::uuid and students.deleted_at is null
         and ${input.scope ?? sql`true`}`),
  );
  if (!student) return null;
  const { summary } = await studentAttendance(tx, {
    studentId: input.id,
    from: input.from,
    to: input.to,
    tenantZone: input.tenantZone,
  });
  const classes = rowsOf<{ name: string; percent: number | null; missing: number; due: number }>(
    await tx.execute(sql`${classGradesSql({ ...input, studentId: input.id })}
      select classes.name, g.percent, g.missing, g.due
        from graded g join classes on classes.id = g.class_id
       where ${input.classScope ?? sql`true`}
       order by classes.name, classes.id`),
  );
  return { student, attendance: summary, classes };
}

export interface AccountRecordInput {
  id: string;
  /** Scope on `billing_accounts`. */
  scope: SQL | undefined;
  /** Scope on `invoices`. */
  invoiceScope: SQL | undefined;
  today: string;
}

export async function accountRecord(tx: Tx<TenantSchema>, input: AccountRecordInput) {
  const [account] = rowsOf<{
    id: string;
    name: string;
    account_number: string;
    status: string;
    school: string | null;
  }>(
    await tx.execute(sql`
      select billing_accounts.id::text as id, billing_accounts.name,
             billing_accounts.account_number, billing_accounts.status, o.name as school
        from billing_accounts left join org_units o on o.id = billing_accounts.school_id
       where billing_accounts.id = ${input.id}::uuid and billing_accounts.deleted_at is null
         and ${input.scope ?? sql`true`}`),
  );
  if (!account) return null;
  const invoices = rowsOf<{
    number: string;
    issue_date: string | null;
    due_date: string | null;
    late: number | null;
    total: number;
    balance: number;
  }>(
    await tx.execute(sql`
      select invoices.number, invoices.issue_date::text as issue_date,
             invoices.due_date::text as due_date,
             (${input.today}::date - invoices.due_date)::int as late,
             invoices.total_cents as total, invoices.balance_cents as balance
        from invoices
       where invoices.account_id = ${input.id}::uuid and invoices.deleted_at is null
         and invoices.status in ('open', 'paid') and invoices.balance_cents > 0
         and ${input.invoiceScope ?? sql`true`}
       order by invoices.due_date nulls last, invoices.number`),
  );
  return { account, invoices };
}
