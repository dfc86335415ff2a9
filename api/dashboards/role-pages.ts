/**
 * What each role that signs in sees first (its /home): a teacher their classes today, office
 * staff their school today, a family their children, a student themself. Each read is
 * limited by the caller's relationships (`api/auth/scope.ts`), from the tenant's branch.
 */
import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { missingAttendance } from '../attendance/missing.js';
import { studentAttendance } from '../attendance/student-attendance.js';
import type { Principal } from '../auth/principal.js';
import {
  childrenOf,
  classesTaughtBy,
  rowScope,
  selfAsStudent,
  studentRules,
} from '../auth/scope.js';
import { accountsOf, invoiceRules } from '../finance/scope.js';
import { classGradesSql } from './lists.js';

export interface TeacherClass {
  id: string;
  name: string;
  school: string | null;
  schoolDay: boolean;
  taken: boolean;
  missing: number;
  below60: number;
}

/** The caller's current classes (a session containing today): attendance, missing work, below 60 %. */
export async function teacherToday(
  tx: Tx<TenantSchema>,
  userId: string,
  today: string,
): Promise<TeacherClass[]> {
  const classes = rowsOf<{
    id: string;
    name: string;
    school: string | null;
    school_day: boolean;
    taken: boolean;
    start: string;
  }>(
    await tx.execute(sql`
      select c.id::text as id, c.name, o.name as school, s.start_date::text as start,
             exists (select 1 from calendar_days cd
                      where cd.deleted_at is null and cd.school_id = c.school_id
                        and cd.date = ${today}::date and cd.kind = 'instructional') as school_day,
             exists (select 1 from attendance_records r
                      where r.deleted_at is null and r.class_id = c.id
                        and r.date = ${today}::date) as taken
        from classes c
        join academic_sessions s on s.id = c.session_id
         and ${today}::date between s.start_date and s.end_date
        left join org_units o on o.id = c.school_id
       where c.deleted_at is null and c.status = 'active' and c.id in ${classesTaughtBy(userId)}
       order by c.name, c.id`),
  );
  if (classes.length === 0) return [];
  const from = classes.map((c) => c.start).sort()[0]!;
  const sums = rowsOf<{ class_id: string; missing: number; below: number }>(
    await tx.execute(sql`${classGradesSql({ from, to: today })}
      select class_id::text as class_id, sum(missing)::int as missing,
             (count(*) filter (where percent < 60))::int as below
        from graded where class_id in ${classesTaughtBy(userId)}
       group by class_id`),
  );
  const byClass = new Map(sums.map((s) => [s.class_id, s]));
  return classes.map((c) => ({
    id: c.id,
    name: c.name,
    school: c.school,
    schoolDay: c.school_day,
    taken: c.taken,
    missing: byClass.get(c.id)?.missing ?? 0,
    below60: byClass.get(c.id)?.below ?? 0,
  }));
}

/** The office's day: classes and schools without attendance, unexcused absences, invoices due. */
export async function officeToday(
  tx: Tx<TenantSchema>,
  principal: Principal,
  today: string,
  tenantZone: string,
) {
  // Each school's own today for the attendance still to take.
  const missing = await missingAttendance(tx, { principal, date: null, tenantZone });
  const students = await rowScope(
    tx,
    principal,
    'attendance.read',
    studentRules(t.students.id, t.students.schoolId),
  );
  const absences = rowsOf<{ id: string; name: string; grade_level: string; school: string | null }>(
    await tx.execute(sql`
      select students.id::text as id,
             students.last_name || ', ' || coalesce(students.preferred_name, students.first_name) as name,
             students.grade_level, o.name as school
        from attendance_records r
        join students on students.id = r.student_id and students.deleted_at is null
        left join org_units o on o.id = r.school_id
       where r.deleted_at is null and r.period is null and r.date = ${today}::date
         and r.status = 'absent' and ${students ?? sql`true`}
       order by students.last_name, students.first_name, students.id
       limit 500`),
  );
  const invoices = await rowScope(tx, principal, 'finance.read', { org: invoiceRules.org });
  const [due] = rowsOf<{
    overdue: number;
    overdue_cents: number;
    week: number;
    week_cents: number;
  }>(
    await tx.execute(sql`
      select (count(*) filter (where invoices.due_date < ${today}::date))::int as overdue,
             coalesce(sum(invoices.balance_cents) filter (where invoices.due_date < ${today}::date), 0)::bigint as overdue_cents,
             (count(*) filter (where invoices.due_date >= ${today}::date))::int as week,
             coalesce(sum(invoices.balance_cents) filter (where invoices.due_date >= ${today}::date), 0)::bigint as week_cents
        from invoices
       where invoices.deleted_at is null and invoices.status = 'open'
         and invoices.balance_cents > 0 and invoices.due_date <= ${today}::date + 7
         and ${principal.permissions.has('finance.read') ? (invoices ?? sql`true`) : sql`false`}`),
  );
  return {
    schoolsWithout: missing.schools,
    classesWithout: missing.classes,
    absences,
    invoicesDue: {
      overdue: Number(due?.overdue ?? 0),
      overdueCents: Number(due?.overdue_cents ?? 0),
      week: Number(due?.week ?? 0),
      weekCents: Number(due?.week_cents ?? 0),
    },
  };
}

export interface ChildSummary {
  id: string;
  name: string;
  school: string | null;
  grade_level: string;
  attendance: Awaited<ReturnType<typeof studentAttendance>>['summary'];
  classes: { name: string; percent: number | null; missing: number }[];
}

/**
 * A family's children (or a student themself): attendance and current grades over the
 * window — classes dropped or withdrawn are left out.
 */
export async function childrenToday(
  tx: Tx<TenantSchema>,
  input: {
    userId: string;
    who: 'parent' | 'student';
    from: string;
    to: string;
    tenantZone: string;
  },
): Promise<ChildSummary[]> {
  const ids = input.who === 'parent' ? childrenOf(input.userId) : selfAsStudent(input.userId);
  const kids = rowsOf<{ id: string; name: string; school: string | null; grade_level: string }>(
    await tx.execute(sql`
      select st.id::text as id, coalesce(st.preferred_name, st.first_name) || ' ' || st.last_name as name,
             o.name as school, st.grade_level
        from students st left join org_units o on o.id = st.school_id
       where st.deleted_at is null and st.id in ${ids}
       order by st.first_name, st.id`),
  );
  const out: ChildSummary[] = [];
  for (const k of kids) {
    const { summary } = await studentAttendance(tx, {
      studentId: k.id,
      from: input.from,
      to: input.to,
      tenantZone: input.tenantZone,
    });
    const classes = rowsOf<{ name: string; percent: number | null; missing: number }>(
      await tx.execute(sql`${classGradesSql({ from: input.from, to: input.to, studentId: k.id })}
        select classes.name, g.percent, g.missing
          from graded g join classes on classes.id = g.class_id
         order by classes.name, classes.id`),
    );
    out.push({ ...k, attendance: summary, classes });
  }
  return out;
}

/** What the family owes: open balances on their accounts, and the earliest due date. */
export async function familyBalance(tx: Tx<TenantSchema>, userId: string) {
  const rows = rowsOf<{ id: string; name: string; balance: number; next_due: string | null }>(
    await tx.execute(sql`
      select ba.id::text as id, ba.name,
             coalesce(sum(i.balance_cents) filter (where i.status = 'open'), 0)::bigint as balance,
             (min(i.due_date) filter (where i.status = 'open' and i.balance_cents > 0))::text as next_due
        from billing_accounts ba
        left join invoices i on i.account_id = ba.id and i.deleted_at is null
       where ba.deleted_at is null and ba.id in ${accountsOf(userId)}
       group by ba.id, ba.name
       order by ba.name, ba.id`),
  );
  return rows.map((r) => ({ ...r, balance: Number(r.balance) }));
}
