import type pg from 'pg';
import { todayIn } from '../../db/dates.js';
import type { Staff } from '../api/staff-fixtures.js';

/**
 * Known people behind every list, in two schools of a tenant, dated relative to today (the
 * lists' default windows end today): who is on which list, and whose teacher, principal or
 * family may see them. Written as superuser into the branch.
 */
export interface ListWorld {
  north: string;
  south: string;
  /** On lists: chronic (Ada), at risk (Rita), failing and missing (Ada, Rita / Sam). */
  ada: string;
  rita: string;
  pat: string;
  sam: string;
  accountNorth: string;
  accountSouth: string;
  teacherNorth: { userId: string; token: string };
  teacherSouth: { userId: string; token: string };
  principalNorth: { userId: string; token: string };
  principalSouth: { userId: string; token: string };
  parentAda: { userId: string; token: string };
  officeNorth: { userId: string; token: string };
  studentSam: { userId: string; token: string };
  term: string;
}

export async function buildListWorld(
  staff: Staff,
  tenantId: string,
  schools?: { north: string; south: string },
): Promise<ListWorld> {
  const db: pg.Client = await staff.db();
  // Dates are the tenant's (the default zone's) days, as the app reads "today".
  const D = `'${todayIn('America/New_York')}'::date`;
  const one = async (text: string, values: unknown[]) =>
    (await db.query<{ id: string }>(text, [tenantId, ...values])).rows[0]!.id;
  const north = schools?.north ?? (await staff.school(tenantId, 'North Campus'));
  const south = schools?.south ?? (await staff.school(tenantId, 'South Campus'));
  const term = await one(
    `insert into academic_sessions (tenant_id, org_unit_id, kind, name, start_date, end_date)
     values ($1, $2, 'school_year', 'This year', ${D} - 60, ${D} + 120) returning id`,
    [await staff.root(tenantId)],
  );
  const student = (school: string, first: string, last: string, grade: string) =>
    one(
      `insert into students (tenant_id, student_number, first_name, last_name, grade_level, school_id)
       values ($1, $2, $3, $4, $5, $6) returning id`,
      [`${last.toUpperCase()}-${first}`, first, last, grade, school],
    );
  const ada = await student(north, 'Ada', 'Absent', '5');
  const rita = await student(north, 'Rita', 'Risk', '6');
  const pat = await student(north, 'Pat', 'Present', '5');
  const sam = await student(south, 'Sam', 'South', '5');
  // 20 instructional days ending yesterday at both schools; everyone enrolled throughout.
  for (const school of [north, south]) {
    await db.query(
      `insert into calendar_days (tenant_id, school_id, session_id, date, kind)
       select $1, $2, $3, d::date, 'instructional'
         from generate_series(${D} - 20, ${D} - 1, interval '1 day') d`,
      [tenantId, school, term],
    );
  }
  const absences: [string, string, number][] = [
    [ada, north, 5], // 25 %: chronic
    [rita, north, 1], // 5 %: at risk
    [pat, north, 0],
    [sam, south, 3], // 15 %: chronic
  ];
  for (const [id, school, absent] of absences) {
    await db.query(
      `insert into school_enrollments (tenant_id, student_id, school_id, session_id, grade_level, entry_date)
       values ($1, $2, $3, $4, '5', ${D} - 60)`,
      [tenantId, id, school, term],
    );
    await db.query(
      `insert into attendance_records (tenant_id, student_id, school_id, date, status)
       select $1, $2, $3, d::date, case when n <= $4 then 'absent' else 'present' end
         from generate_series(${D} - 20, ${D} - 1, interval '1 day')
              with ordinality g(d, n)`,
      [tenantId, id, school, absent],
    );
  }
  const teacherNorth = await staff.person(tenantId, [{ role: 'teacher' }]);
  const teacherSouth = await staff.person(tenantId, [{ role: 'teacher' }]);
  const principalNorth = await staff.person(tenantId, [{ role: 'principal', orgUnitId: north }]);
  const principalSouth = await staff.person(tenantId, [{ role: 'principal', orgUnitId: south }]);
  const parentAda = await staff.person(tenantId, [{ role: 'parent' }]);
  const guardianAda = await staff.guardian(tenantId, [ada], { userId: parentAda.userId });
  const kn = await staff.classTaughtBy(tenantId, north, teacherNorth.userId, [ada, rita]);
  const ks = await staff.classTaughtBy(tenantId, south, teacherSouth.userId, [sam]);
  // Both classes are of the current term; today is a school day at North only, where the
  // office has recorded one absence and the class has no attendance yet.
  await db.query(
    `update academic_sessions set start_date = ${D} - 60, end_date = ${D} + 120
      where id = any($1::uuid[])`,
    [[kn.sessionId, ks.sessionId]],
  );
  await db.query(
    `insert into calendar_days (tenant_id, school_id, session_id, date, kind)
     values ($1, $2, $3, ${D}, 'instructional')`,
    [tenantId, north, term],
  );
  await db.query(
    `insert into attendance_records (tenant_id, student_id, school_id, date, status)
     values ($1, $2, $3, ${D}, 'absent')`,
    [tenantId, pat, north],
  );
  const officeNorth = await staff.person(tenantId, [{ role: 'office_admin', orgUnitId: north }]);
  const studentSam = await staff.person(tenantId, [{ role: 'student' }]);
  await db.query(`update students set user_id = $2 where tenant_id = $1 and id = $3`, [
    tenantId,
    studentSam.userId,
    sam,
  ]);
  const assignment = (classId: string) =>
    one(
      `insert into assignments (tenant_id, class_id, title, category, points_possible, weight, due_date)
       values ($1, $2, 'Essay', 'homework', 100, 1, ${D} - 3) returning id`,
      [classId],
    );
  const an = await assignment(kn.classId);
  const as = await assignment(ks.classId);
  const score = (a: string, s: string, points: number | null, missing: boolean) =>
    db.query(
      `insert into scores (tenant_id, assignment_id, student_id, points, is_missing)
       values ($1, $2, $3, $4, $5)`,
      [tenantId, a, s, points, missing],
    );
  await score(an, ada, 40, false); // failing
  await score(an, rita, null, true); // missing, 0 %: failing too
  await score(as, sam, 30, false); // failing
  const account = (name: string, school: string, number: string) =>
    one(
      `insert into billing_accounts (tenant_id, account_number, name, school_id)
       values ($1, $2, $3, $4) returning id`,
      [number, name, school],
    );
  const accountNorth = await account('Absent family', north, 'AC-N');
  await db.query(
    `insert into billing_account_guardians (tenant_id, account_id, guardian_id) values ($1, $2, $3)`,
    [tenantId, accountNorth, guardianAda],
  );
  const accountSouth = await account('South family', south, 'AC-S');
  const invoice = (acct: string, school: string, number: string, late: number) =>
    db.query(
      `insert into invoices (tenant_id, number, account_id, school_id, status, issue_date, due_date,
                             subtotal_cents, total_cents, amount_paid_cents, balance_cents)
       values ($1, $2, $3, $4, 'open', ${D} - $5::int - 30, ${D} - $5::int,
               12000, 12000, 2000, 10000)`,
      [tenantId, number, acct, school, late],
    );
  await invoice(accountNorth, north, 'INV-N1', 45); // 31–60
  await invoice(accountSouth, south, 'INV-S1', 100); // over 90
  const lead = (school: string, name: string, daysAgo: number) =>
    db.query(
      `insert into leads (tenant_id, guardian_name, email, school_id, stage, first_touch_at)
       values ($1, $2, $3, $4, 'inquiry', now() - make_interval(days => $5))`,
      [tenantId, name, `${name.replace(/\W/g, '').toLowerCase()}@family.test`, school, daysAgo],
    );
  await lead(north, 'Quiet North', 20);
  await lead(north, 'Fresh North', 2);
  await lead(south, 'Quiet South', 30);
  const program = await one(
    `insert into esa_programs (tenant_id, name, state, award_amount_cents)
     values ($1, 'Empowerment', 'AZ', 700000) returning id`,
    [],
  );
  const esa = (s: string, school: string, status: string, daysAgo: number) =>
    db.query(
      `insert into esa_applications (tenant_id, student_id, program_id, session_id, school_id, status,
                                     amount_requested_cents, submitted_at)
       values ($1, $2, $3, $4, $5, $6, 500000, now() - make_interval(days => $7))`,
      [tenantId, s, program, term, school, status, daysAgo],
    );
  await esa(ada, north, 'submitted', 40);
  await esa(rita, north, 'under_review', 5);
  await esa(sam, south, 'under_review', 45);
  return {
    north,
    south,
    ada,
    rita,
    pat,
    sam,
    accountNorth,
    accountSouth,
    teacherNorth,
    teacherSouth,
    principalNorth,
    principalSouth,
    parentAda,
    officeNorth,
    studentSam,
    term,
  };
}
