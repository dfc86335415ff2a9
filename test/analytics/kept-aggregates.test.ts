import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMetrics, snapshotKey, type AnySnapshot } from '../../analytics/metrics/index.js';
import { openWarehouse } from '../../analytics/warehouse.js';
import { buildWorld, rng, type World } from './dataset.js';
import {
  createAnalyticsWorld,
  payloadOf,
  type AnalyticsWorld,
  type TenantFixture,
} from './world.js';

// An incremental run patches the kept attendance and grades aggregates from the changed
// rows only; the figures (and the kept tables themselves) must equal a full rebuild's.
const AS_OF = '2025-01-15';
const KEPT = [
  'agg_att_segments',
  'agg_att_school_days',
  'agg_att_taken',
  'agg_att_student_school',
  'agg_att_student',
  'agg_score_segments',
  'agg_gr_class',
  'agg_gr_student',
  'agg_gr_figures',
  'agg_gr_gpa',
  'agg_fin_invoices',
  'agg_fin_allocations',
  'agg_fin_payments',
  'agg_fin_months',
  'agg_fin_schools',
  'agg_fin_cohort',
  'agg_fin_aging',
  'agg_fn_leads',
  'agg_fn_gaps',
  'agg_fn_funnel',
];

let w: AnalyticsWorld;
beforeAll(async () => {
  w = await createAnalyticsWorld('kept');
});
afterAll(async () => w?.close());

/** Every kept aggregate table, rows sorted, and the stored snapshots of a warehouse. */
async function dumpKept(dir: string, tenantId: string) {
  const wh = await openWarehouse({ dir, tenantId });
  try {
    const tables: Record<string, string[]> = {};
    for (const name of KEPT) {
      const rows = await wh.rows<Record<string, unknown>>(`SELECT * FROM ${name}`);
      tables[name] = rows.map((r) => JSON.stringify(r)).sort();
    }
    const snapshots = await wh.rows<{ k: string; payload: string }>(
      `SELECT metric || '|' || scope_kind || '|' || coalesce(scope_id::VARCHAR, '') || '|' || period AS k,
              payload::VARCHAR AS payload FROM metric_snapshots ORDER BY k`,
    );
    return { tables, snapshots };
  } finally {
    await wh.close();
  }
}

const key = (s: AnySnapshot) => `${s.metric}|${s.scopeId ?? ''}|${s.period}`;

describe('kept aggregates', () => {
  let t: TenantFixture;
  let world: World;
  const q = (sql: string, params: unknown[] = []) => t.exec(sql, [t.id, ...params]);
  const pick = async (table: string, n: number, where: string, salt: string) =>
    (
      await q(
        `select id from "${table}" where tenant_id = $1 and deleted_at is null and ${where}
          order by md5(id::text || '${salt}') limit ${n}`,
      )
    ).rows.map((r) => r.id as string);

  beforeAll(async () => {
    t = await w.tenant('kept');
    world = await buildWorld(t, rng(23));
  });

  /** Runs an incremental refresh and a full one elsewhere; both must agree everywhere. */
  async function incrementalEqualsFull(dir: string, label: string) {
    const inc = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF });
    expect(inc.mode).toBe('incremental');
    expect(inc.aggregates).toEqual({
      lead_funnel: 'patched',
      attendance: 'patched',
      grades: 'patched',
      finance: 'patched',
    });
    const fullDir = join(w.dir, `kept-full-${label}`);
    const full = await t.refresh({ warehouseDir: fullDir, mode: 'full', asOf: AS_OF });
    expect(full.aggregates).toEqual({
      lead_funnel: 'rebuilt',
      attendance: 'rebuilt',
      grades: 'rebuilt',
      finance: 'rebuilt',
    });
    expect(inc.snapshots).toEqual(full.snapshots);
    const [a, b] = [await dumpKept(dir, t.id), await dumpKept(fullDir, t.id)];
    for (const name of KEPT) expect(a.tables[name], `${name} (${label})`).toEqual(b.tables[name]);
    expect(a.snapshots).toEqual(b.snapshots);
    return { inc, full };
  }

  it('patches attendance and grades for updates, inserts, soft and hard deletes, and a student moving schools', async () => {
    const dir = join(w.dir, 'kept-inc');
    const first = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF });
    expect(first.mode).toBe('full');
    expect(first.aggregates).toEqual({
      lead_funnel: 'rebuilt',
      attendance: 'rebuilt',
      grades: 'rebuilt',
      finance: 'rebuilt',
    });

    // Attendance: corrections, soft and hard deletes, a new daily and a period record.
    for (const id of await pick('attendance_records', 8, 'period is null', 'a1')) {
      await q(
        `update attendance_records set status = case when status = 'absent' then 'present' else 'absent' end
          where tenant_id = $1 and id = $2`,
        [id],
      );
    }
    for (const id of await pick('attendance_records', 2, 'true', 'a2'))
      await q(`update attendance_records set deleted_at = now() where tenant_id = $1 and id = $2`, [
        id,
      ]);
    for (const id of await pick('attendance_records', 2, 'true', 'a3'))
      await q(`delete from attendance_records where tenant_id = $1 and id = $2`, [id]);
    await q(
      `insert into attendance_records (tenant_id, student_id, school_id, date, period, status)
       values ($1, $2, $3, '2025-01-14', 'P9', 'tardy')`,
      [world.students[3], world.schools[1]],
    );
    // A student moves from one school to the other on 2025-01-08.
    const mover = world.students[4]!; // enrolled at schools[0] (even index)
    await q(
      `update school_enrollments set exit_date = '2025-01-07'
        where tenant_id = $1 and student_id = $2 and deleted_at is null`,
      [mover],
    );
    await q(
      `insert into school_enrollments (tenant_id, student_id, school_id, session_id, grade_level, entry_date)
       values ($1, $2, $3, $4, '3', '2025-01-08')`,
      [mover, world.schools[1], world.year],
    );
    await q(
      `update attendance_records set school_id = $3
        where tenant_id = $1 and student_id = $2 and date >= '2025-01-08' and deleted_at is null`,
      [mover, world.schools[1]],
    );
    // Another student's enrolment is withdrawn (soft-deleted).
    await q(
      `update school_enrollments set deleted_at = now()
        where tenant_id = $1 and student_id = $2 and deleted_at is null`,
      [world.students[6]],
    );
    // Grades: score edits and deletes; an assignment moved, re-weighted, removed and added.
    for (const id of await pick('scores', 5, 'not is_excused and not is_missing', 's1'))
      await q(`update scores set points = points + 1 where tenant_id = $1 and id = $2`, [id]);
    for (const id of await pick('scores', 2, 'true', 's2'))
      await q(`update scores set deleted_at = now() where tenant_id = $1 and id = $2`, [id]);
    for (const id of await pick('scores', 2, 'true', 's3'))
      await q(`delete from scores where tenant_id = $1 and id = $2`, [id]);
    await q(`update assignments set due_date = '2025-01-13' where tenant_id = $1 and id = $2`, [
      world.assignments[0],
    ]);
    await q(`update assignments set weight = weight + 2 where tenant_id = $1 and id = $2`, [
      world.assignments[4],
    ]);
    await q(`update assignments set deleted_at = now() where tenant_id = $1 and id = $2`, [
      world.assignments[7],
    ]);
    const added = await t.insert('assignments', {
      class_id: world.classes[1],
      title: 'Quiz',
      category: 'quiz',
      points_possible: 20,
      weight: 1,
      due_date: '2025-01-10',
    });
    await q(
      `insert into scores (tenant_id, assignment_id, student_id, points, is_missing, is_excused)
       select $1, $2, ce.student_id, 7, false, false from class_enrollments ce
        where ce.tenant_id = $1 and ce.class_id = $3 and ce.deleted_at is null`,
      [added, world.classes[1]],
    );

    // Final grades: one changed, one withdrawn (GPA).
    const [graded, withdrawn] = await pick('class_enrollments', 2, `status = 'completed'`, 'g1');
    await q(`update class_enrollments set grade_points = 1.5 where tenant_id = $1 and id = $2`, [
      graded,
    ]);
    await q(`update class_enrollments set deleted_at = now() where tenant_id = $1 and id = $2`, [
      withdrawn,
    ]);

    // A class dropped before the as-of date takes its scores out of every grades figure;
    // one withdrawn after it still counts.
    const [dropped, later] = await pick('class_enrollments', 2, `status = 'active'`, 'g2');
    await q(
      `update class_enrollments set status = 'dropped', exit_date = '2024-12-01' where tenant_id = $1 and id = $2`,
      [dropped],
    );
    await q(
      `update class_enrollments set status = 'withdrawn', exit_date = '2025-02-01' where tenant_id = $1 and id = $2`,
      [later],
    );

    const { inc } = await incrementalEqualsFull(dir, 'r1');
    expect(inc.recomputed).toEqual(expect.arrayContaining(['attendance', 'grades']));
    // The mover counts at the new school from 2025-01-08.
    const south = payloadOf(inc.snapshots, 'attendance', world.schools[1]!, 'last_30_days');
    const before = payloadOf(first.snapshots, 'attendance', world.schools[1]!, 'last_30_days');
    expect(south.students).toBe(before.students + 1);

    // A second round on the patched tables: the student moves back (enrolment hard-deleted).
    await q(
      `delete from school_enrollments where tenant_id = $1 and student_id = $2 and school_id = $3`,
      [mover, world.schools[1]],
    );
    await q(
      `update school_enrollments set exit_date = null where tenant_id = $1 and student_id = $2 and deleted_at is null`,
      [mover],
    );
    await q(
      `update attendance_records set school_id = $3 where tenant_id = $1 and student_id = $2 and deleted_at is null`,
      [mover, world.schools[0]],
    );
    for (const id of await pick('scores', 3, 'not is_excused and not is_missing', 's4'))
      await q(
        `update scores set is_missing = true, points = null where tenant_id = $1 and id = $2`,
        [id],
      );
    await incrementalEqualsFull(dir, 'r2');
  });

  it('adds changed attendance records to the kept sums when no enrolment changed', async () => {
    const dir = join(w.dir, 'kept-records');
    await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    const daily = (n: number, salt: string) =>
      pick('attendance_records', n, `period is null and date <= '${AS_OF}'`, salt);
    // Corrections to every status, soft and hard deletes (the day becomes unmarked), a
    // period record, and a record moved to the school the student is not enrolled at.
    const statuses = ['present', 'tardy', 'early_departure', 'absent', 'excused_absence'];
    for (const [i, id] of (await daily(10, 'r1')).entries()) {
      await q(`update attendance_records set status = $2 where tenant_id = $1 and id = $3`, [
        statuses[i % statuses.length],
        id,
      ]);
    }
    const [soft, hard1, hard2, moved] = await daily(4, 'r2');
    await q(`update attendance_records set deleted_at = now() where tenant_id = $1 and id = $2`, [
      soft,
    ]);
    const removed = (
      await q(
        `delete from attendance_records where tenant_id = $1 and id in ($2, $3)
         returning student_id, school_id, date::text as date`,
        [hard1, hard2],
      )
    ).rows as { student_id: string; school_id: string; date: string }[];
    await q(
      `update attendance_records set school_id = case when school_id = $2 then $3::uuid else $2::uuid end
        where tenant_id = $1 and id = $4`,
      [world.schools[0], world.schools[1], moved],
    );
    await q(
      `insert into attendance_records (tenant_id, student_id, school_id, date, period, status)
       values ($1, $2, $3, '2025-01-13', 'P2', 'absent')`,
      [world.students[5], world.schools[1]],
    );
    const { inc } = await incrementalEqualsFull(dir, 'records-1');
    expect(inc.rowsPerTable.attendance_records!.extracted).toBeGreaterThan(0);
    expect(inc.rowsPerTable.school_enrollments!.extracted).toBe(0);

    // Unmarked days get a record again; the soft-deleted record comes back.
    for (const r of removed) {
      await q(
        `insert into attendance_records (tenant_id, student_id, school_id, date, status)
         values ($1, $2, $3, $4, 'tardy')`,
        [r.student_id, r.school_id, r.date],
      );
    }
    await q(`update attendance_records set deleted_at = null where tenant_id = $1 and id = $2`, [
      soft,
    ]);
    await incrementalEqualsFull(dir, 'records-2');
  });

  it('drops a deleted student from the kept attendance sums, and takes a restored one back', async () => {
    const dir = join(w.dir, 'kept-students');
    const first = await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    // Deleted with their enrolment left open and their records in place; another student
    // only edited (stays as they were in attendance).
    const gone = world.students[8]!;
    await q(`update students set deleted_at = now() where tenant_id = $1 and id = $2`, [gone]);
    await q(`update students set grade_level = '4' where tenant_id = $1 and id = $2`, [
      world.students[9],
    ]);
    const { inc } = await incrementalEqualsFull(dir, 'students-1');
    expect(inc.rowsPerTable.school_enrollments!.extracted).toBe(0);
    expect(inc.rowsPerTable.attendance_records!.extracted).toBe(0);
    const count = (snaps: AnySnapshot[]) =>
      payloadOf(snaps, 'attendance', null, 'school_year').students;
    expect(count(inc.snapshots)).toBe(count(first.snapshots) - 1);

    await q(`update students set deleted_at = null where tenant_id = $1 and id = $2`, [gone]);
    const again = await incrementalEqualsFull(dir, 'students-2');
    expect(count(again.inc.snapshots)).toBe(count(first.snapshots));
  });

  it('patches finance for account, invoice, payment and allocation changes', async () => {
    const dir = join(w.dir, 'kept-finance');
    const before = await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    const [north, south] = [world.schools[0]!, world.schools[1]!];
    // An account moves school: its invoices without a school and its payments move too.
    await q(`update billing_accounts set school_id = $2 where tenant_id = $1 and id = $3`, [
      south,
      world.accounts[0],
    ]);
    // A payment fails, another is refunded, a third is soft-deleted.
    const payments = await pick('payments', 3, `status = 'succeeded'`, 'f1');
    await q(`update payments set status = 'failed' where tenant_id = $1 and id = $2`, [
      payments[0],
    ]);
    await q(`update payments set status = 'refunded' where tenant_id = $1 and id = $2`, [
      payments[1],
    ]);
    await q(`update payments set deleted_at = now() where tenant_id = $1 and id = $2`, [
      payments[2],
    ]);
    // An allocation moves to another invoice; another is hard-deleted.
    const allocations = await pick('payment_allocations', 2, 'true', 'f2');
    const [target] = await pick('invoices', 1, `status = 'open'`, 'f3');
    await q(`update payment_allocations set invoice_id = $2 where tenant_id = $1 and id = $3`, [
      target,
      allocations[0],
    ]);
    await q(`delete from payment_allocations where tenant_id = $1 and id = $2`, [allocations[1]]);
    // Invoices: one voided, one past due by more (another aging bucket), one moved school.
    const invoices = await pick('invoices', 3, `status = 'open'`, 'f4');
    await q(`update invoices set status = 'void' where tenant_id = $1 and id = $2`, [invoices[0]]);
    await q(
      `update invoices set issue_date = '2024-09-01', due_date = '2024-09-15'
        where tenant_id = $1 and id = $2`,
      [invoices[1]],
    );
    await q(`update invoices set school_id = $2 where tenant_id = $1 and id = $3`, [
      north,
      invoices[2],
    ]);
    // A payment received after the as-of date: the invoice was still receivable then.
    const [later] = await q(
      `insert into payments (tenant_id, account_id, method, amount_cents, received_at)
       values ($1, $2, 'card', 1000, '2025-02-01T12:00:00Z') returning id`,
      [world.accounts[1]],
    ).then((r) => r.rows.map((x) => x.id as string));
    await q(
      `insert into payment_allocations (tenant_id, payment_id, invoice_id, amount_cents)
       values ($1, $2, $3, 1000)`,
      [later, invoices[1]],
    );
    const { inc } = await incrementalEqualsFull(dir, 'finance');
    expect(inc.recomputed).toContain('finance');
    // The changes moved the figures: aging, collections and the schools' shares.
    const finance = (r: typeof inc) => payloadOf(r.snapshots, 'finance', null, 'school_year');
    expect(finance(inc).ar_aging).not.toEqual(finance(before).ar_aging);
    expect(finance(inc).collected_cents).not.toBe(finance(before).collected_cents);
    expect(finance(inc).by_school).not.toEqual(finance(before).by_school);
  });

  it('patches the funnel for lead and stage-history changes', async () => {
    const dir = join(w.dir, 'kept-funnel');
    const before = await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    const [north, south] = [world.schools[0]!, world.schools[1]!];
    // Leads move on (with history), one skipping a stage, one lost from where it was.
    const moving = await pick('leads', 4, `stage = 'inquiry'`, 'l1');
    for (const [i, id] of moving.entries()) {
      const to = i === 3 ? 'lost' : i === 2 ? 'application_started' : 'tour_scheduled';
      await q(
        `update leads set stage = $2, lost_at = case when $2 = 'lost' then now() end
          where tenant_id = $1 and id = $3`,
        [to, id],
      );
      await q(
        `insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, changed_at)
         values ($1, $2, 'inquiry', $3, '2025-01-14T09:00:00Z')`,
        [id, to],
      );
    }
    // A move dated after the as-of date does not count yet.
    const [late] = await pick('leads', 1, `stage = 'tour_scheduled'`, 'l2');
    await q(
      `insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, changed_at)
       values ($1, $2, 'tour_scheduled', 'tour_completed', '2025-02-01T09:00:00Z')`,
      [late],
    );
    await q(`update leads set stage = 'tour_completed' where tenant_id = $1 and id = $2`, [late]);
    // Another lead changes school and source; one history row is removed; one lead is deleted.
    const [moved] = await pick('leads', 1, `school_id = '${north}'`, 'l3');
    await q(
      `update leads set school_id = $2, source = 'open_house' where tenant_id = $1 and id = $3`,
      [south, moved],
    );
    await q(`delete from lead_stage_history where tenant_id = $1 and id = (
               select id from lead_stage_history where tenant_id = $1 order by md5(id::text || 'l4') limit 1)`);
    const [gone] = await pick('leads', 1, `stage <> 'inquiry'`, 'l5');
    await q(`update leads set deleted_at = now() where tenant_id = $1 and id = $2`, [gone]);
    const { inc } = await incrementalEqualsFull(dir, 'funnel');
    const funnel = (r: typeof inc) => payloadOf(r.snapshots, 'lead_funnel', null, 'school_year');
    expect(funnel(inc).stages).not.toEqual(funnel(before).stages);
    expect(funnel(inc).by_source).not.toEqual(funnel(before).by_source);
  });

  it("leaves other schools' snapshots byte-identical when one school's rows change", async () => {
    const dir = join(w.dir, 'kept-one-school');
    const before = await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    const [north, south] = [world.schools[0]!, world.schools[1]!];
    for (const id of await pick(
      'attendance_records',
      6,
      `school_id = '${north}' and period is null`,
      'n1',
    )) {
      await q(
        `update attendance_records set status = case when status = 'absent' then 'present' else 'absent' end
          where tenant_id = $1 and id = $2`,
        [id],
      );
    }
    for (const id of await pick(
      'scores',
      4,
      `not is_excused and not is_missing and assignment_id in (
         select a.id from assignments a join classes c on c.id = a.class_id where c.school_id = '${north}')`,
      'n2',
    ))
      await q(`update scores set points = points + 2 where tenant_id = $1 and id = $2`, [id]);

    const { inc, full } = await incrementalEqualsFull(dir, 'one-school');
    const prior = new Map(before.snapshots.map((s) => [key(s), JSON.stringify(s.payload)]));
    const fullBy = new Map(full.snapshots.map((s) => [key(s), JSON.stringify(s.payload)]));
    const southSnapshots = inc.snapshots.filter((s) => s.scopeId === south);
    expect(southSnapshots.length).toBe(15); // 5 metrics × 3 periods
    for (const s of southSnapshots) {
      expect(JSON.stringify(s.payload), key(s)).toBe(prior.get(key(s)));
      expect(JSON.stringify(s.payload), key(s)).toBe(fullBy.get(key(s)));
    }
    // The changed school and the tenant did change.
    const changed = (id: string | null) =>
      inc.snapshots.filter(
        (s) =>
          s.scopeId === id &&
          (s.metric === 'attendance' || s.metric === 'grades') &&
          JSON.stringify(s.payload) !== prior.get(key(s)),
      ).length;
    expect(changed(north)).toBeGreaterThan(0);
    expect(changed(null)).toBeGreaterThan(0);

    // Only changed payloads are attributed to (and rewritten by) the new run: South's keep the
    // run that first produced them, in the result and in the warehouse.
    for (const s of inc.snapshots) {
      const same = JSON.stringify(s.payload) === prior.get(key(s));
      expect(inc.payloadRuns[snapshotKey(s)], key(s)).toBe(same ? before.runId : inc.runId);
    }
    expect(inc.changedSnapshots).toBe(
      inc.snapshots.filter((s) => JSON.stringify(s.payload) !== prior.get(key(s))).length,
    );
    const wh = await openWarehouse({ dir, tenantId: t.id });
    try {
      const rows = await wh.rows<{ run_id: string }>(
        `SELECT DISTINCT run_id::VARCHAR AS run_id FROM metric_snapshots WHERE scope_id = '${south}'`,
      );
      expect(rows).toEqual([{ run_id: before.runId }]);
    } finally {
      await wh.close();
    }
  });

  it('averages percentages exactly, unrounded', async () => {
    // 0.56 % and 0.57 %: the mean is 0.565 from the exact sum, not rounded to 2 decimals.
    const a = await w.tenant('avg');
    const school = await a.school('A');
    const year = await a.insert('academic_sessions', {
      org_unit_id: a.rootOrgUnitId,
      kind: 'school_year',
      name: 'Y',
      start_date: '2024-08-01',
      end_date: '2025-05-31',
    });
    const course = await a.insert('courses', { code: 'M', name: 'Math', subject: 'math' });
    const klass = await a.insert('classes', {
      course_id: course,
      session_id: year,
      school_id: school,
      section: 'S',
      name: 'Class',
    });
    const assignment = await a.insert('assignments', {
      class_id: klass,
      title: 'Test',
      category: 'test',
      points_possible: 100,
      weight: 1,
      due_date: '2025-01-10',
    });
    for (const [i, points] of [0.56, 0.57].entries()) {
      const student = await a.insert('students', {
        student_number: `A${i}`,
        first_name: 'F',
        last_name: 'L',
        grade_level: '3',
        school_id: school,
      });
      await a.insert('scores', {
        assignment_id: assignment,
        student_id: student,
        points,
        is_missing: false,
        is_excused: false,
      });
    }
    const r = await a.refresh({ warehouseDir: join(w.dir, 'kept-avg'), asOf: AS_OF });
    const grades = payloadOf(r.snapshots, 'grades', null, 'school_year');
    expect(grades.student_classes).toBe(2);
    expect(grades.average_percent).toBe(0.565);
    expect(grades.by_school.map((x) => x.average_percent)).toEqual([0.565]);
    // A class's figures are in its school's snapshot, none in the tenant's.
    expect(grades.classes).toEqual([]);
    const schoolGrades = payloadOf(r.snapshots, 'grades', school, 'school_year');
    expect(schoolGrades.classes.map((c) => c.average_percent)).toEqual([0.565]);
  });

  it('gives the same grade averages however many threads add them up', async () => {
    const dir = join(w.dir, 'kept-threads');
    await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    const results: string[] = [];
    for (const threads of [1, 2, 4, 1, 4]) {
      const wh = await openWarehouse({ dir, tenantId: t.id, threads });
      try {
        const snaps = await computeMetrics(wh, AS_OF, ['grades']);
        results.push(
          JSON.stringify(
            snaps.map((s) => {
              const p = payloadOf([s], 'grades', s.scopeId, s.period);
              return [
                p.average_percent,
                p.by_school.map((x) => x.average_percent),
                p.by_subject.map((x) => x.average_percent),
                p.classes.map((x) => x.average_percent),
              ];
            }),
          ),
        );
      } finally {
        await wh.close();
      }
    }
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toMatch(/\d/);
  });
});
