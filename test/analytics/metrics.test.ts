import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnySnapshot } from '../../analytics/metrics/types.js';
import {
  createAnalyticsWorld,
  payloadOf,
  type AnalyticsWorld,
  type TenantFixture,
} from './world.js';

// Every definition of docs/metrics.md against small crafted datasets whose figures are worked
// out by hand in the comments. One tenant per metric keeps each calculation self-contained.
//
// Calendar shared by all tenants (attached to the network, so every school inherits it):
//   school year 2024-08-01 … 2025-05-31; term 1 2024-08-01 … 2024-12-20; term 2 2025-01-06 …
//   2025-05-31. As of 2025-01-15 the windows are
//   school_year [2024-08-01, 2025-01-15], term [2025-01-06, 2025-01-15] (term 2),
//   last_30_days [2024-12-17, 2025-01-15].
const AS_OF = '2025-01-15';

let w: AnalyticsWorld;
beforeAll(async () => {
  w = await createAnalyticsWorld('metrics');
});
afterAll(async () => w?.close());

interface Calendar {
  year: string;
  term1: string;
  term2: string;
  nextYear: string;
}

async function calendar(t: TenantFixture): Promise<Calendar> {
  const session = (kind: string, name: string, start: string, end: string, parent?: string) =>
    t.insert('academic_sessions', {
      org_unit_id: t.rootOrgUnitId,
      kind,
      name,
      start_date: start,
      end_date: end,
      parent_id: parent ?? null,
    });
  const year = await session('school_year', '2024–25', '2024-08-01', '2025-05-31');
  return {
    year,
    term1: await session('term', 'Fall', '2024-08-01', '2024-12-20', year),
    term2: await session('term', 'Spring', '2025-01-06', '2025-05-31', year),
    nextYear: await session('school_year', '2025–26', '2025-08-01', '2026-05-31'),
  };
}

/**
 * Payloads carry unrounded figures: `near(expected)` matches each decimal number written
 * in `expected` to as many decimals as it is written with (0.5714 ↔ 4/7), the rest exactly.
 */
function near<T>(expected: T): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number' && !Number.isInteger(v)) {
      const decimals = String(v).split('.')[1]!.length;
      return expect.closeTo(v, decimals);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(expected) as T;
}

let studentSeq = 0;
function student(t: TenantFixture, schoolId: string, grade: string): Promise<string> {
  studentSeq++;
  return t.insert('students', {
    student_number: `S${studentSeq}`,
    first_name: 'Test',
    last_name: `Student${studentSeq}`,
    grade_level: grade,
    school_id: schoolId,
  });
}

describe('attendance', () => {
  let snaps: AnySnapshot[];
  let s1: string;
  let s2: string;

  beforeAll(async () => {
    const t = await w.tenant('attendance');
    const cal = await calendar(t);
    s1 = await t.school('S1');
    s2 = await t.school('S2');
    // S1: 13 instructional days; a holiday and a day after the as-of date do not count.
    const s1Days = [
      '2024-12-16',
      '2024-12-17',
      '2024-12-18',
      '2024-12-19',
      '2024-12-20',
      '2025-01-06',
      '2025-01-07',
      '2025-01-08',
      '2025-01-09',
      '2025-01-10',
      '2025-01-13',
      '2025-01-14',
      '2025-01-15',
    ];
    for (const date of s1Days) {
      await t.insert('calendar_days', { school_id: s1, session_id: cal.year, date });
    }
    await t.insert('calendar_days', {
      school_id: s1,
      session_id: cal.year,
      date: '2024-12-23',
      kind: 'holiday',
    });
    await t.insert('calendar_days', { school_id: s1, session_id: cal.year, date: '2025-01-16' });
    for (const date of ['2025-01-14', '2025-01-15']) {
      await t.insert('calendar_days', { school_id: s2, session_id: cal.year, date });
    }

    const enrol = async (grade: string, school: string, entry: string, exit?: string) => {
      const id = await student(t, school, grade);
      await t.insert('school_enrollments', {
        student_id: id,
        school_id: school,
        session_id: cal.year,
        grade_level: grade,
        entry_date: entry,
        exit_date: exit ?? null,
      });
      return id;
    };
    const mark = (id: string, school: string, date: string, status: string, period?: string) =>
      t.insert('attendance_records', {
        student_id: id,
        school_id: school,
        date,
        status,
        period: period ?? null,
      });

    // A (grade 3, whole year): tardy and early departure count as present; one absence and
    // one excused absence; nothing on 2025-01-13 (no attendance taken at S1 that day).
    const a = await enrol('3', s1, '2024-08-01');
    const aMarks: [string, string][] = [
      ['2024-12-16', 'tardy'],
      ['2024-12-17', 'early_departure'],
      ['2024-12-18', 'absent'],
      ['2024-12-19', 'present'],
      ['2024-12-20', 'present'],
      ['2025-01-06', 'excused_absence'],
      ['2025-01-07', 'present'],
      ['2025-01-08', 'present'],
      ['2025-01-09', 'present'],
      ['2025-01-10', 'present'],
      ['2025-01-14', 'present'],
      ['2025-01-15', 'present'],
      ['2024-12-23', 'present'], // a holiday: not a membership day
    ];
    for (const [d, s] of aMarks) await mark(a, s1, d, s);
    // A period record never decides the day.
    await mark(a, s1, '2025-01-14', 'absent', 'P1');

    // B (grade 3) enrolled mid-year on 2025-01-08: membership starts at entry.
    const b = await enrol('3', s1, '2025-01-08');
    for (const d of ['2025-01-07', '2025-01-08', '2025-01-09', '2025-01-10', '2025-01-15']) {
      await mark(b, s1, d, 'present'); // 01-07 precedes entry: ignored; 01-14 unmarked
    }
    // C (grade 4, whole year): one absence.
    const c = await enrol('4', s1, '2024-08-01');
    for (const d of s1Days) {
      if (d === '2025-01-13') continue;
      await mark(c, s1, d, d === '2024-12-19' ? 'absent' : 'present');
    }
    // E (grade 4) left on 2024-12-18 (exit date inclusive).
    const e = await enrol('4', s1, '2024-08-01', '2024-12-18');
    for (const d of ['2024-12-16', '2024-12-17', '2024-12-18', '2024-12-19'])
      await mark(e, s1, d, 'present');
    // D (grade 5) at S2.
    const d = await enrol('5', s2, '2024-08-01');
    await mark(d, s2, '2025-01-14', 'present');
    await mark(d, s2, '2025-01-15', 'absent');
    // G at S2 has two overlapping enrolments (re-registered in grade 6 on 01-14): each
    // day counts once, in the grade of the later enrolment.
    const g = await enrol('5', s2, '2025-01-13', '2025-01-14');
    await t.insert('school_enrollments', {
      student_id: g,
      school_id: s2,
      session_id: cal.year,
      grade_level: '6',
      entry_date: '2025-01-14',
    });
    await mark(g, s2, '2025-01-14', 'present');
    await mark(g, s2, '2025-01-15', 'present');

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('counts membership from entry to exit, tardy and early departure as present, and ADA over marked days only', () => {
    const p = payloadOf(snaps, 'attendance', s1, 'school_year');
    // A: 13 days, present 10 (incl. tardy, early departure), absent 2 (1 excused), unmarked 1
    // B: 6 days from 01-08, present 4, unmarked 2 (01-13, 01-14)
    // C: 13 days, present 11, absent 1, unmarked 1
    // E: 3 days (12-16…12-18), present 3
    expect(p).toMatchObject({
      students: 4,
      membership_days: 35,
      present_days: 28,
      absent_days: 3,
      excused_absence_days: 1,
      unmarked_days: 4,
      // Unmarked days are never absences: ADA is over the 31 marked days, and how many of
      // the membership days were marked is reported beside it.
      marked_days: 31,
      ada_percent: (28 * 100) / 31,
      completeness_percent: (31 * 100) / 35,
    });
  });

  it('counts excused absences toward chronic absenteeism, among students with ≥ 10 marked membership days', () => {
    const p = payloadOf(snaps, 'attendance', s1, 'school_year');
    // Eligible: A (12 marked days) and C (12); B (4) and E (3) are not.
    // A: 2 absences (one excused) ≥ 10 % of 12 → chronic; C: 1 < 1.2 → not.
    expect(p).toMatchObject({
      chronic_eligible: 2,
      chronically_absent: 1,
      chronic_absence_rate: 0.5,
    });
    // Without the excused absence A would have 1 absence and not be chronic: the rule counts it.
  });

  it('breaks figures down by grade level and by school', () => {
    const p = payloadOf(snaps, 'attendance', s1, 'school_year');
    // Grade 3 = A + B: 19 days, 16 marked, 14 present → 87.5 %; grade 4 = C + E: 16 days,
    // 15 marked, 14 present → 93.33 %.
    expect(
      p.by_grade.map((g) => [
        g.grade_level,
        g.membership_days,
        g.present_days,
        g.ada_percent,
        g.chronically_absent,
      ]),
    ).toEqual([
      ['3', 19, 14, 87.5, 1],
      ['4', 16, 14, (14 * 100) / 15, 0],
    ]);
    const tenant = payloadOf(snaps, 'attendance', null, 'school_year');
    // Tenant = S1 + S2 (D: 2 days, 1 present, 1 absent; G: 2 days present):
    // 39 days, 35 marked, 31 present → 88.57 %.
    expect(tenant).toMatchObject({
      students: 6,
      membership_days: 39,
      marked_days: 35,
      present_days: 31,
      absent_days: 4,
      ada_percent: (31 * 100) / 35,
    });
    expect(tenant.by_school.map((s) => [s.school_id, s.membership_days, s.present_days])).toEqual(
      [
        [s1, 35, 28],
        [s2, 4, 3],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
  });

  it('counts a day once when enrolments overlap', () => {
    // G's enrolments [01-13, 01-14] and [01-14, open] overlap on 01-14: S2 has 2 school days.
    const p = payloadOf(snaps, 'attendance', s2, 'school_year');
    expect(p).toMatchObject({ students: 2, membership_days: 4, present_days: 3 });
    expect(p.by_grade.map((x) => [x.grade_level, x.students, x.membership_days])).toEqual([
      ['5', 1, 2], // D
      ['6', 1, 2], // G, in the grade of its latest enrolment
    ]);
  });

  it('reports school days with no attendance taken as incomplete', () => {
    const p = payloadOf(snaps, 'attendance', s1, 'school_year');
    // 13 instructional days at S1, attendance taken on all but 2025-01-13; 31 of 35
    // membership days have a daily record.
    expect(p.completeness_percent).toBe((31 * 100) / 35);
    expect(p.completeness).toEqual({
      instructional_days: 13,
      days_without_attendance: 1,
      missing: [{ school_id: s1, date: '2025-01-13' }],
      missing_truncated: false,
    });
    const tenant = payloadOf(snaps, 'attendance', null, 'school_year');
    expect(tenant.completeness).toMatchObject({
      instructional_days: 15,
      days_without_attendance: 1,
    });
  });

  it('gives a daily rate trend', () => {
    const p = payloadOf(snaps, 'attendance', s1, 'school_year');
    const day = (d: string) => p.daily.find((x) => x.date === d);
    // 12-18: A absent, C and E (last day, inclusive) present → 2 / 3.
    expect(day('2024-12-18')).toEqual({
      date: '2024-12-18',
      membership: 3,
      marked: 3,
      present: 2,
      absent: 1,
      unmarked: 0,
      rate_percent: (2 * 100) / 3,
    });
    // 12-19: E has left → A present, C absent.
    expect(day('2024-12-19')).toMatchObject({ membership: 2, present: 1, absent: 1 });
    // 01-13: nothing recorded — no rate, not a rate of 0.
    expect(day('2025-01-13')).toMatchObject({
      membership: 3,
      marked: 0,
      present: 0,
      unmarked: 3,
      rate_percent: null,
    });
    expect(p.daily.map((x) => x.date)).not.toContain('2024-12-23');
    expect(p.daily.map((x) => x.date)).not.toContain('2025-01-16');
  });

  it('restricts every figure to the period window', () => {
    // Term 2 [01-06, 01-15]: A 8 days (6 present, 1 excused absence, 1 unmarked), B 6 (4,
    // 2 unmarked), C 8 (7, 1 unmarked); E is gone. Nobody has 10 marked days → no chronic rate.
    expect(payloadOf(snaps, 'attendance', s1, 'term')).toMatchObject({
      window: { start: '2025-01-06', end: AS_OF, source: 'session' },
      students: 3,
      membership_days: 22,
      present_days: 17,
      absent_days: 1,
      unmarked_days: 4,
      ada_percent: (17 * 100) / 18,
      chronic_eligible: 0,
      chronic_absence_rate: null,
    });
    // Last 30 days [12-17, 01-15]: A 12 days (11 marked: 9 present, 2 absences → chronic),
    // B 6 (4 marked), C 12 (11 marked: 10 present, 1 absence), E 2 (2): 28 of 32 marked.
    expect(payloadOf(snaps, 'attendance', s1, 'last_30_days')).toMatchObject({
      window: { start: '2024-12-17', end: AS_OF, source: 'trailing' },
      students: 4,
      membership_days: 32,
      present_days: 25,
      absent_days: 3,
      ada_percent: (25 * 100) / 28,
      chronic_eligible: 2,
      chronically_absent: 1,
    });
  });
});

describe('attendance: transfers, deleted students, marked days', () => {
  let snaps: AnySnapshot[];
  let sa: string;
  let sb: string;

  // The 13 instructional days d0 … d12 at both schools (as S1's above).
  const days = [
    '2024-12-16',
    '2024-12-17',
    '2024-12-18',
    '2024-12-19',
    '2024-12-20',
    '2025-01-06',
    '2025-01-07',
    '2025-01-08',
    '2025-01-09',
    '2025-01-10',
    '2025-01-13',
    '2025-01-14',
    '2025-01-15',
  ];

  beforeAll(async () => {
    const t = await w.tenant('attendance-rules');
    const cal = await calendar(t);
    sa = await t.school('SA');
    sb = await t.school('SB');
    for (const school of [sa, sb])
      for (const date of days)
        await t.insert('calendar_days', { school_id: school, session_id: cal.year, date });
    const enrol = async (id: string, school: string, entry: string, exit: string | null) =>
      t.insert('school_enrollments', {
        student_id: id,
        school_id: school,
        session_id: cal.year,
        grade_level: '3',
        entry_date: entry,
        exit_date: exit,
      });
    const mark = (id: string, school: string, date: string, status: string) =>
      t.insert('attendance_records', { student_id: id, school_id: school, date, status });

    // T moved from SB (to d8 = 01-09) to SA (from d9). Present every day; d9 and d10 were
    // still filed at SB, d11 and d12 at SA.
    const tr = await student(t, sa, '3');
    await enrol(tr, sb, '2024-08-01', days[8]!);
    await enrol(tr, sa, days[9]!, null);
    for (const [i, d] of days.entries()) await mark(tr, i <= 10 ? sb : sa, d, 'present');
    // N at SA: d0–d8 present, d9 absent, d10–d12 unmarked: 10 marked days, 1 absence.
    const n = await student(t, sa, '3');
    await enrol(n, sa, '2024-08-01', null);
    for (const [i, d] of days.slice(0, 10).entries())
      await mark(n, sa, d, i === 9 ? 'absent' : 'present');
    // M at SA: d0–d6 present, d7 absent, the rest unmarked: 8 marked days.
    const m = await student(t, sa, '3');
    await enrol(m, sa, '2024-08-01', null);
    for (const [i, d] of days.slice(0, 8).entries())
      await mark(m, sa, d, i === 7 ? 'absent' : 'present');
    // X at SA, absent every day (the only record filed at SA on d10), then deleted with
    // the enrolment left open.
    const x = await student(t, sa, '3');
    await enrol(x, sa, '2024-08-01', null);
    for (const d of days) await mark(x, sa, d, 'absent');
    await t.exec(`update students set deleted_at = now() where id = $1`, [x]);

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('counts a record at the school the student was enrolled at that day, whichever school filed it', () => {
    // SB: T's 9 days d0–d8, all present; T's records of d9 and d10 are not SB's.
    expect(payloadOf(snaps, 'attendance', sb, 'school_year')).toMatchObject({
      students: 1,
      membership_days: 9,
      marked_days: 9,
      present_days: 9,
    });
    const a = payloadOf(snaps, 'attendance', sa, 'school_year');
    const t = a.daily.find((d) => d.date === days[9]);
    // d9 at SA: T present (filed at SB), N absent, M unmarked.
    expect(t).toMatchObject({ membership: 3, marked: 2, present: 1, absent: 1, unmarked: 1 });
  });

  it('leaves a deleted student out of every figure', () => {
    // SA: T 4 days (4 present), N 13 (9 present, 1 absent), M 13 (7 present, 1 absent).
    expect(payloadOf(snaps, 'attendance', sa, 'school_year')).toMatchObject({
      students: 3,
      membership_days: 30,
      absent_days: 2,
      by_school: [{ school_id: sa, days_without_attendance: 1 }],
    });
    // d10 has only T's record, filed at SB, and the deleted X's: no attendance taken at SA.
    expect(payloadOf(snaps, 'attendance', sa, 'school_year').completeness.missing).toEqual([
      { school_id: sa, date: days[10] },
    ]);
    expect(payloadOf(snaps, 'attendance', null, 'school_year')).toMatchObject({
      students: 3,
      membership_days: 39,
    });
  });

  it('computes ADA and chronic absence over marked membership days, completeness beside them', () => {
    expect(payloadOf(snaps, 'attendance', sa, 'school_year')).toMatchObject({
      marked_days: 22,
      unmarked_days: 8,
      present_days: 20,
      ada_percent: (20 * 100) / 22,
      completeness_percent: (22 * 100) / 30,
      // N: 10 marked days, 1 absence ≥ 10 % → eligible and chronic; M has 8 marked days
      // (13 membership days) → not eligible.
      chronic_eligible: 1,
      chronically_absent: 1,
      chronic_absence_rate: 1,
    });
  });
});

describe('lead funnel', () => {
  let snaps: AnySnapshot[];
  let s1: string;

  beforeAll(async () => {
    const t = await w.tenant('funnel');
    await calendar(t);
    s1 = await t.school('S1');
    const s2 = await t.school('S2');
    let n = 0;
    const lead = (
      school: string,
      firstTouch: string,
      stage: string,
      source: string | null,
      extra: Record<string, unknown> = {},
    ) =>
      t.insert('leads', {
        guardian_name: `Guardian ${++n}`,
        email: `family${n}@example.com`,
        school_id: school,
        stage,
        source,
        first_touch_at: `${firstTouch}T10:00:00Z`,
        ...extra,
      });
    const move = (leadId: string, from: string | null, to: string, at: string) =>
      t.insert('lead_stage_history', {
        lead_id: leadId,
        from_stage: from,
        to_stage: to,
        changed_at: `${at}T10:00:00Z`,
      });

    // L1 walks every stage: 2, 6, 1, 4, 10, 10 days between consecutive stages; converted.
    const converted = await student(t, s1, 'K');
    const l1 = await lead(s1, '2024-09-02', 'enrolled', 'google', {
      converted_student_id: converted,
      converted_at: '2024-10-06T10:00:00Z',
    });
    await move(l1, 'inquiry', 'tour_scheduled', '2024-09-04');
    await move(l1, 'tour_scheduled', 'tour_completed', '2024-09-10');
    await move(l1, 'tour_completed', 'application_started', '2024-09-11');
    await move(l1, 'application_started', 'application_submitted', '2024-09-15');
    await move(l1, 'application_submitted', 'accepted', '2024-09-25');
    await move(l1, 'accepted', 'enrolled', '2024-10-05');
    // L2 skipped three stages in one move: it still counts for them.
    const l2 = await lead(s1, '2024-09-03', 'application_submitted', 'google');
    await move(l2, 'inquiry', 'application_submitted', '2024-09-13');
    // L3 was lost from tour_scheduled: counts as having reached it.
    const l3 = await lead(s1, '2024-09-09', 'lost', 'facebook', {
      lost_at: '2024-09-20T10:00:00Z',
      lost_reason: 'Tuition cost',
    });
    await move(l3, 'inquiry', 'tour_scheduled', '2024-09-11');
    await move(l3, 'tour_scheduled', 'lost', '2024-09-20');
    // L4 never moved.
    await lead(s1, '2024-09-10', 'inquiry', null);
    // L9's only recorded move is application_started → lost (earlier moves were never
    // recorded): the history alone shows it reached application_started.
    const l9 = await lead(s1, '2024-09-12', 'lost', 'facebook', {
      lost_at: '2024-10-01T10:00:00Z',
      lost_reason: 'Moved to Denver, call Jane on 555-0199',
    });
    await move(l9, 'application_started', 'lost', '2024-10-01');
    // L5 in term 2: 3 days to schedule a tour.
    const l5 = await lead(s1, '2025-01-07', 'tour_scheduled', 'google');
    await move(l5, 'inquiry', 'tour_scheduled', '2025-01-10');
    // L6 arrives after the as-of date.
    await lead(s1, '2025-01-20', 'inquiry', 'google');
    // L7 at S2 was imported as enrolled with no history: it reached every stage.
    await lead(s2, '2024-10-01', 'enrolled', 'referral');
    // L8 completed its tour after the as-of date: as of 2025-01-15 it is at tour_scheduled.
    const l8 = await lead(s1, '2024-11-01', 'tour_completed', 'google');
    await move(l8, 'inquiry', 'tour_scheduled', '2024-11-05');
    await move(l8, 'tour_scheduled', 'tour_completed', '2025-02-01');

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('counts every lead at each stage it reached, cumulatively, including skipped stages', () => {
    const p = payloadOf(snaps, 'lead_funnel', null, 'school_year');
    // Cohort: L1 L2 L3 L4 L5 L7 L8 L9 (L6 is after the as-of date). Highest stage index:
    // L1 6, L2 4 (skipped 1–3), L3 1 (lost from tour_scheduled), L4 0, L5 1, L7 6, L8 1,
    // L9 3 (lost from application_started).
    expect(p.leads).toBe(8);
    expect(p.stage_keys).toEqual([
      'inquiry',
      'tour_scheduled',
      'tour_completed',
      'application_started',
      'application_submitted',
      'accepted',
      'enrolled',
    ]);
    expect(p.stages.map((s) => s.reached)).toEqual([8, 7, 4, 4, 3, 2, 2]);
    // reached(k+1) / reached(k)
    expect(p.stages.map((s) => s.conversion_from_previous)).toEqual(
      near([null, 0.875, 0.5714, 1, 0.75, 0.6667, 1]),
    );
    expect(p.inquiry_to_enrolled).toEqual(near({ from: 'inquiry', to: 'enrolled', rate: 0.25 }));
    // Ratios are published unrounded: 4 of 7, not 0.5714.
    expect(p.stages[2]!.conversion_from_previous).toBe(4 / 7);
    expect(p.converted_to_student).toBe(1);
  });

  it('counts a lost lead at the stage it was lost from', () => {
    const p = payloadOf(snaps, 'lead_funnel', null, 'school_year');
    expect(p.lost).toEqual({
      total: 2,
      by_stage: [
        { stage: 'tour_scheduled', count: 1 },
        { stage: 'application_started', count: 1 },
      ],
    });
    // L9 counts for application_started and every stage before it.
    expect(p.stages.map((s) => s.lost)).toEqual([0, 1, 0, 1, 0, 0, 0]);
  });

  it('takes median days between consecutive stages from stage history', () => {
    const p = payloadOf(snaps, 'lead_funnel', null, 'school_year');
    // inquiry → tour_scheduled: L1 2, L3 2, L5 3, L8 4 → median 2.5. L2 has no entry into
    // tour_scheduled (it skipped it); L8's tour_completed is after the as-of date.
    // Later pairs only have L1: 6, 1, 4, 10, 10.
    expect(p.stages.map((s) => s.median_days_from_previous)).toEqual(
      near([null, 2.5, 6, 1, 4, 10, 10]),
    );
  });

  it('breaks the funnel down by first-touch source and by week of inquiry', () => {
    const p = payloadOf(snaps, 'lead_funnel', null, 'school_year');
    expect(p.by_source).toEqual(
      near([
        { source: 'facebook', leads: 2, reached: [2, 2, 1, 1, 0, 0, 0], conversion_rate: 0 },
        // L1 (6), L2 (4), L5 (1), L8 (1)
        { source: 'google', leads: 4, reached: [4, 4, 2, 2, 2, 1, 1], conversion_rate: 0.25 },
        { source: 'referral', leads: 1, reached: [1, 1, 1, 1, 1, 1, 1], conversion_rate: 1 },
        { source: 'unknown', leads: 1, reached: [1, 0, 0, 0, 0, 0, 0], conversion_rate: 0 },
      ]),
    );
    // ISO weeks (Mondays): 09-02 L1 L2; 09-09 L3 L4 L9; 09-30 L7; 10-28 L8; 2025-01-06 L5.
    expect(p.by_week.map((x) => [x.week_start, x.leads, x.reached[1]])).toEqual([
      ['2024-09-02', 2, 2],
      ['2024-09-09', 3, 2],
      ['2024-09-30', 1, 1],
      ['2024-10-28', 1, 1],
      ['2025-01-06', 1, 1],
    ]);
  });

  it('scopes leads by school of interest and period of inquiry', () => {
    // S1 leaves out L7: 7 leads.
    expect(payloadOf(snaps, 'lead_funnel', s1, 'school_year').stages.map((s) => s.reached)).toEqual(
      [7, 6, 3, 3, 2, 1, 1],
    );
    // Term 2 and the last 30 days hold L5 only.
    for (const period of ['term', 'last_30_days'] as const) {
      const p = payloadOf(snaps, 'lead_funnel', null, period);
      expect(p.leads).toBe(1);
      expect(p.stages.map((s) => s.reached)).toEqual([1, 1, 0, 0, 0, 0, 0]);
      expect(p.stages[1]!.median_days_from_previous).toBe(3);
    }
  });
});

describe('time zones and daylight saving', () => {
  // The tenant is in New York; school S1 in Denver. Both zones leave daylight saving on
  // 2024-11-03 (clocks go back an hour).
  let snaps: AnySnapshot[];
  let s1: string;

  beforeAll(async () => {
    const t = await w.tenant('zones');
    const cal = await calendar(t);
    s1 = await t.school('S1');
    await t.exec(`update org_units set timezone = 'America/Denver' where id = $1`, [s1]);
    let n = 0;
    const lead = (school: string | null, firstTouch: string, stage = 'inquiry') =>
      t.insert('leads', {
        guardian_name: `Guardian ${++n}`,
        email: `zone${n}@example.com`,
        school_id: school,
        stage,
        source: 'web',
        first_touch_at: firstTouch,
      });
    // A: first touch 2024-11-01 12:00 MDT, tour scheduled 2024-11-03 12:30 MST: 2 days
    // 1 h 30 min elapsed (2.0625 days), though the wall clock moved only 2 days 30 min.
    const a = await lead(s1, '2024-11-01T18:00:00Z', 'tour_scheduled');
    await t.insert('lead_stage_history', {
      lead_id: a,
      from_stage: 'inquiry',
      to_stage: 'tour_scheduled',
      changed_at: '2024-11-03T19:30:00Z',
    });
    // B: 2025-01-16 00:30 in New York but 2025-01-15 22:30 in Denver: S1's lead inquired on
    // the as-of date.
    await lead(s1, '2025-01-16T05:30:00Z');
    // C: Sunday 2025-01-12 22:30 in Denver (Monday 00:30 in New York): week of 2025-01-06.
    await lead(s1, '2025-01-13T05:30:00Z');
    // D has no school: the tenant's zone, 2025-01-15 23:30 in New York (2025-01-16 UTC).
    await lead(null, '2025-01-16T04:30:00Z');
    // An ESA application submitted and decided across the same change: 2.0625 days.
    const program = await t.insert('esa_programs', {
      name: 'Empowerment',
      state: 'AZ',
      award_amount_cents: 700000,
    });
    await t.insert('esa_applications', {
      student_id: await student(t, s1, '2'),
      program_id: program,
      session_id: cal.year,
      school_id: s1,
      status: 'approved',
      amount_requested_cents: 100,
      amount_awarded_cents: 100,
      submitted_at: '2024-11-01T18:00:00Z',
      decided_at: '2024-11-03T19:30:00Z',
    });

    snaps = (await t.refresh({ asOf: AS_OF, timezone: 'America/New_York' })).snapshots;
  });

  it('measures days between stages and to an ESA decision as elapsed time across a clock change', () => {
    // 2 days 1 h 30 min = 2.0625 days, unrounded (the wall clock says 2 days 30 min).
    const funnel = payloadOf(snaps, 'lead_funnel', s1, 'school_year');
    expect(funnel.stages[1]!.median_days_from_previous).toBe(2.0625);
    expect(payloadOf(snaps, 'esa', s1, 'school_year').median_days_to_decision).toBe(2.0625);
  });

  it("dates a school's leads in the school's zone and a lead with no school in the tenant's", () => {
    // S1: A, B and C inquired by the as-of date in Denver.
    expect(payloadOf(snaps, 'lead_funnel', s1, 'school_year').leads).toBe(3);
    // The tenant: those three and D.
    expect(payloadOf(snaps, 'lead_funnel', null, 'school_year').leads).toBe(4);
    const term = payloadOf(snaps, 'lead_funnel', s1, 'term');
    expect(term.by_week.map((w) => [w.week_start, w.leads])).toEqual([
      ['2025-01-06', 1],
      ['2025-01-13', 1],
    ]);
  });
});

describe('grades', () => {
  let snaps: AnySnapshot[];
  let s1: string;
  let k1: string;

  beforeAll(async () => {
    const t = await w.tenant('grades');
    const cal = await calendar(t);
    s1 = await t.school('S1');
    const s2 = await t.school('S2');
    const course = (code: string, subject: string, credits: number) =>
      t.insert('courses', { code, name: `${subject} course`, subject, credits });
    const klass = (courseId: string, school: string, session: string) =>
      t.insert('classes', {
        course_id: courseId,
        session_id: session,
        school_id: school,
        section: '1',
        name: 'Section 1',
      });
    const math = await course('MATH', 'math', 1);
    const ela = await course('ELA', 'ela', 0.5);
    const sci = await course('SCI', 'science', 1);
    k1 = await klass(math, s1, cal.term1);
    const k2 = await klass(ela, s1, cal.term1);
    const k3 = await klass(sci, s2, cal.term2);
    const assignment = (classId: string, pointsPossible: number, weight: number, due: string) =>
      t.insert('assignments', {
        class_id: classId,
        title: 'Work',
        category: 'homework',
        points_possible: pointsPossible,
        weight,
        due_date: due,
      });
    const score = (
      assignmentId: string,
      studentId: string,
      points: number | null,
      flags: { missing?: boolean; excused?: boolean } = {},
    ) =>
      t.insert('scores', {
        assignment_id: assignmentId,
        student_id: studentId,
        points,
        is_missing: flags.missing ?? false,
        is_excused: flags.excused ?? false,
      });

    const p = await student(t, s1, '9');
    const q = await student(t, s1, '9');
    const r = await student(t, s1, '9');
    const s = await student(t, s2, '9');
    // K1 (math): a1 100 pts ×1, a2 50 pts ×2, a3 20 pts ×1; a4 is due after the as-of date.
    const a1 = await assignment(k1, 100, 1, '2024-09-10');
    const a2 = await assignment(k1, 50, 2, '2024-10-10');
    const a3 = await assignment(k1, 20, 1, '2024-11-10');
    const a4 = await assignment(k1, 100, 1, '2025-02-01');
    // P: 90 + 2×40 = 170 of 200 (a3 excused: out of both sides) → 85 % (B)
    await score(a1, p, 90);
    await score(a2, p, 40);
    await score(a3, p, null, { excused: true });
    await score(a4, p, 0);
    // Q: a1 missing counts 0 of 100; 2×45 + 20 = 110 of 220 → 50 % (F, failing)
    await score(a1, q, null, { missing: true });
    await score(a2, q, 45);
    await score(a3, q, 20);
    // R: a2 ungraded (no points, not missing): left out; 95 + 18 = 113 of 120 → 94.17 % (A)
    await score(a1, r, 95);
    await score(a2, r, null);
    await score(a3, r, 18);
    // K2 (ela): one 10-point item. P 8.99 → 89.9 % is a B (no rounding up); Q 6 → 60 % is a D.
    const b1 = await assignment(k2, 10, 1, '2024-12-01');
    await score(b1, p, 8.99);
    await score(b1, q, 6);
    // K3 (science, S2, term 2): S 59.5 % (F); a weight-0 item changes nothing.
    const c1 = await assignment(k3, 100, 1, '2025-01-10');
    const c2 = await assignment(k3, 100, 0, '2025-01-12');
    await score(c1, s, 59.5);
    await score(c2, s, 100);

    // Final grades for GPA (credits attempted × grade points):
    const enrol = (
      classId: string,
      studentId: string,
      status: string,
      points: number | null,
      credits: number | null,
    ) =>
      t.insert('class_enrollments', {
        class_id: classId,
        student_id: studentId,
        status,
        entry_date: '2024-08-01',
        grade_points: points,
        credits_attempted: credits,
      });
    await enrol(k1, p, 'completed', 3, 1);
    await enrol(k2, p, 'completed', 4, 0.5);
    await enrol(k1, q, 'completed', 0, 1);
    await enrol(k2, q, 'active', 1, 0.5); // not completed: no final grade yet
    await enrol(k1, r, 'completed', 4.5, 1); // honours weighting is capped at 4.0
    await enrol(k3, s, 'completed', 2, null); // credits from the course (1)

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('weights scores by assignment weight, leaves excused out and counts missing as zero', () => {
    // A class's figures are published with its school's; the tenant's lists no classes.
    expect(payloadOf(snaps, 'grades', null, 'school_year').classes).toEqual([]);
    const p = payloadOf(snaps, 'grades', s1, 'school_year');
    const k1Row = p.classes.find((c) => c.class_id === k1)!;
    // (85 + 50 + 94.1667) / 3 = 76.39
    expect(k1Row).toMatchObject(
      near({
        subject: 'math',
        students: 3,
        average_percent: 76.39,
        failing_students: 1,
      }),
    );
    // Counts per letter, in the order of the payload's letters (A B C D F).
    expect(p.letters.map((l) => l.letter)).toEqual(['A', 'B', 'C', 'D', 'F']);
    expect(k1Row.letter_counts).toEqual([1, 1, 0, 0, 1]);
    // Due (excused left out): P 2, Q 3, R 3 = 8; missing: Q's a1.
    expect(k1Row).toMatchObject({ scores_due: 8, missing_scores: 1 });
  });

  it('computes average, letters, failing rate and missing rate per subject, school and tenant', () => {
    const p = payloadOf(snaps, 'grades', null, 'school_year');
    // Pairs: P-K1 85, Q-K1 50, R-K1 94.17, P-K2 89.9, Q-K2 60, S-K3 59.5 → mean 73.09.
    // Failing (< 60 in at least one class): Q and S of P Q R S → 0.5. 89.9 is a B, 60 a D.
    expect(p).toMatchObject(
      near({
        students: 4,
        student_classes: 6,
        average_percent: 73.09,
        failing_students: 2,
        failing_rate: 0.5,
        scores_due: 12,
        missing_scores: 1,
        missing_rate: 0.0833,
      }),
    );
    expect(p.letters.map((l) => [l.letter, l.count])).toEqual([
      ['A', 1],
      ['B', 2],
      ['C', 0],
      ['D', 1],
      ['F', 2],
    ]);
    expect(p.by_subject.map((s) => [s.subject, s.average_percent, s.failing_students])).toEqual(
      near([
        ['ela', 74.95, 0],
        ['math', 76.39, 1],
        ['science', 59.5, 1],
      ]),
    );
    // S1 = K1 + K2: mean of 85, 50, 94.17, 89.9, 60 = 75.81; failing Q of P Q R.
    expect(payloadOf(snaps, 'grades', s1, 'school_year')).toMatchObject(
      near({
        average_percent: 75.81,
        students: 3,
        failing_rate: 0.3333,
      }),
    );
  });

  it('weights GPA by credits attempted on completed enrolments', () => {
    // 3×1 + 4×0.5 + 0×1 + 4(capped)×1 + 2×1(course credits) = 11 over 4.5 credits → 2.44.
    // (The unweighted mean would be 2.6; without the cap 2.56.)
    expect(payloadOf(snaps, 'grades', null, 'school_year')).toMatchObject(
      near({
        gpa: 2.44,
        credits_attempted: 4.5,
        completed_enrollments: 5,
      }),
    );
    // S1: 9 over 3.5 → 2.57.
    expect(payloadOf(snaps, 'grades', s1, 'school_year').gpa).toBeCloseTo(2.57, 2);
    // Term 2: only K3's work is due and only K3's session overlaps.
    expect(payloadOf(snaps, 'grades', null, 'term')).toMatchObject(
      near({
        average_percent: 59.5,
        student_classes: 1,
        gpa: 2,
      }),
    );
  });
});

describe('grades: dropped classes and the as-of cut', () => {
  let snaps: AnySnapshot[];

  beforeAll(async () => {
    const t = await w.tenant('grades-cut');
    const cal = await calendar(t);
    const s1 = await t.school('S1');
    const course = await t.insert('courses', {
      code: 'M',
      name: 'Math',
      subject: 'math',
      credits: 1,
    });
    const klass = (name: string) =>
      t.insert('classes', {
        course_id: course,
        session_id: cal.term1,
        school_id: s1,
        section: name,
        name,
      });
    const ka = await klass('KA');
    const kb = await klass('KB');
    const a = await t.insert('assignments', {
      class_id: ka,
      title: 'Work',
      category: 'homework',
      points_possible: 100,
      weight: 1,
      due_date: '2024-10-01',
    });
    const b = await t.insert('assignments', {
      class_id: kb,
      title: 'Work',
      category: 'homework',
      points_possible: 100,
      weight: 1,
      due_date: '2024-10-01',
    });
    const enrol = (
      classId: string,
      studentId: string,
      status: string,
      extra: Record<string, unknown> = {},
    ) =>
      t.insert('class_enrollments', {
        class_id: classId,
        student_id: studentId,
        status,
        entry_date: '2024-08-01',
        ...extra,
      });
    // T dropped KA on 2024-11-01 with 40 %: that class counts nowhere; KB 90 % does.
    const tt = await student(t, s1, '9');
    await enrol(ka, tt, 'dropped', { exit_date: '2024-11-01' });
    await enrol(kb, tt, 'active');
    await t.insert('scores', { assignment_id: a, student_id: tt, points: 40 });
    await t.insert('scores', { assignment_id: b, student_id: tt, points: 90 });
    // V withdraws from KA only after the as-of date: as of then it is enrolled, 50 %.
    const v = await student(t, s1, '9');
    await enrol(ka, v, 'withdrawn', { exit_date: '2025-02-01' });
    await t.insert('scores', { assignment_id: a, student_id: v, points: 50 });
    // U's KA final grade (0 points) is dated after the as-of date; KB's (4) before it.
    const u = await student(t, s1, '9');
    const final = (points: number, exit: string) => ({
      exit_date: exit,
      grade_points: points,
      credits_attempted: 1,
    });
    await enrol(ka, u, 'completed', final(0, '2025-01-20'));
    await enrol(kb, u, 'completed', final(4, '2024-12-20'));

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('leaves a class dropped or withdrawn by the as-of date out of every grades figure', () => {
    const p = payloadOf(snaps, 'grades', null, 'school_year');
    // T-KB 90 and V-KA 50: T's dropped 40 % neither fails T nor counts as an F.
    expect(p).toMatchObject({ students: 2, student_classes: 2, failing_students: 1 });
    expect(p.failing_rate).toBeCloseTo(0.5, 10);
    expect(p.letters.map((l) => [l.letter, l.count])).toEqual([
      ['A', 1],
      ['B', 0],
      ['C', 0],
      ['D', 0],
      ['F', 1],
    ]);
  });

  it('counts only final grades dated by the as-of date in GPA', () => {
    const p = payloadOf(snaps, 'grades', null, 'school_year');
    expect(p).toMatchObject({ gpa: 4, credits_attempted: 1, completed_enrollments: 1 });
  });
});

describe('the as-of cut: voids, grading and conversions', () => {
  // S1 is in Pacific/Auckland (UTC+13 in January): 2025-01-15T12:00Z is already 01-16
  // there, so that instant is after the as-of date at S1 although it is 01-15 in UTC.
  const LATE_UTC_SAME_DAY = '2025-01-15T12:00:00Z';
  let snaps: AnySnapshot[];
  let s1: string;

  beforeAll(async () => {
    const t = await w.tenant('as-of-cut');
    const cal = await calendar(t);
    s1 = await t.school('S1');
    await t.exec(`update org_units set timezone = 'Pacific/Auckland' where id = $1`, [s1]);
    const account = await t.insert('billing_accounts', {
      account_number: 'A1',
      name: 'Family One',
      school_id: s1,
    });
    let n = 0;
    const invoice = (total: number, voidedAt: string | null) =>
      t.insert('invoices', {
        number: `INV-${++n}`,
        account_id: account,
        school_id: s1,
        status: voidedAt ? 'void' : 'open',
        issue_date: '2024-12-02',
        due_date: '2024-12-20',
        subtotal_cents: total,
        total_cents: total,
        amount_paid_cents: 0,
        balance_cents: total,
        voided_at: voidedAt,
      });
    // Live: 1000; voided after the as-of date: 2000 (after it) and 4000 (01-16 at S1);
    // voided by it: 8000 (01-10) and 16000 (void, no date).
    await invoice(1000, null);
    await invoice(2000, '2025-01-20T10:00:00Z');
    await invoice(4000, LATE_UTC_SAME_DAY);
    await invoice(8000, '2025-01-10T10:00:00Z');
    await invoice(16000, null).then((id) =>
      t.exec(`update invoices set status = 'void' where id = $1`, [id]),
    );

    // Grades: one class, four assignments of 10 points due before the as-of date. The
    // student's scores: 10 graded by then, 0 graded after it, missing marked 01-16 at S1,
    // 5 never dated. As of the date: (10 + 5) / 20 = 75 %, nothing missing, 2 due.
    const course = await t.insert('courses', { code: 'M', name: 'Math', subject: 'math' });
    const klass = await t.insert('classes', {
      course_id: course,
      session_id: cal.term1,
      school_id: s1,
      section: 'A',
      name: 'Math A',
    });
    const kid = await student(t, s1, '9');
    await t.insert('class_enrollments', {
      class_id: klass,
      student_id: kid,
      status: 'active',
      entry_date: '2024-08-01',
    });
    const score = async (points: number | null, gradedAt: string | null, missing = false) => {
      const a = await t.insert('assignments', {
        class_id: klass,
        title: 'Quiz',
        category: 'quiz',
        points_possible: 10,
        weight: 1,
        due_date: '2024-12-10',
      });
      await t.insert('scores', {
        assignment_id: a,
        student_id: kid,
        points,
        is_missing: missing,
        graded_at: gradedAt,
      });
    };
    await score(10, '2024-12-11T10:00:00Z');
    await score(0, '2025-01-20T10:00:00Z');
    await score(null, LATE_UTC_SAME_DAY, true);
    await score(5, null);

    // Leads enrolled in the autumn: converted 2024-11-01, 2025-01-20, 01-16 at S1, and a
    // lead linked to a student with no conversion date. By the as-of date: 1.
    let l = 0;
    const lead = async (convertedAt: string | null) =>
      t.insert('leads', {
        guardian_name: `Guardian ${++l}`,
        email: `family${l}@example.com`,
        school_id: s1,
        stage: 'enrolled',
        first_touch_at: '2024-09-02T10:00:00Z',
        converted_student_id: await student(t, s1, 'K'),
        converted_at: convertedAt,
      });
    await lead('2024-11-01T10:00:00Z');
    await lead('2025-01-20T10:00:00Z');
    await lead(LATE_UTC_SAME_DAY);
    await lead(null);

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('counts an invoice voided after the as-of date as live then', () => {
    const p = payloadOf(snaps, 'finance', null, 'school_year');
    expect(p.invoiced_cents).toBe(7000);
    expect(p.outstanding).toEqual({ open_invoices: 3, balance_cents: 7000 });
    // 26 days past due on the as-of date.
    expect(p.ar_aging.find((b) => b.bucket === '1_30')).toEqual({
      bucket: '1_30',
      invoices: 3,
      balance_cents: 7000,
    });
    expect(payloadOf(snaps, 'finance', s1, 'school_year').invoiced_cents).toBe(7000);
  });

  it('leaves scores graded after the as-of date out of every grades figure', () => {
    const p = payloadOf(snaps, 'grades', s1, 'school_year');
    expect(p).toMatchObject({ students: 1, missing_scores: 0, scores_due: 2 });
    expect(p.average_percent).toBeCloseTo(75, 8);
  });

  it('counts conversions into student records made by the as-of date only', () => {
    expect(payloadOf(snaps, 'lead_funnel', null, 'school_year').converted_to_student).toBe(1);
    expect(payloadOf(snaps, 'lead_funnel', s1, 'school_year').converted_to_student).toBe(1);
  });
});

describe('ESA', () => {
  let snaps: AnySnapshot[];
  let s2: string;

  beforeAll(async () => {
    const t = await w.tenant('esa');
    const cal = await calendar(t);
    const s1 = await t.school('S1');
    s2 = await t.school('S2');
    const az = await t.insert('esa_programs', {
      name: 'Empowerment',
      state: 'AZ',
      award_amount_cents: 700000,
    });
    const fl = await t.insert('esa_programs', {
      name: 'Family Empowerment',
      state: 'FL',
      award_amount_cents: 800000,
    });
    const app = async (
      program: string,
      session: string,
      status: string,
      requested: number,
      dates: { submitted?: string; decided?: string; created?: string },
      extra: Record<string, unknown> = {},
    ) =>
      t.insert('esa_applications', {
        student_id: extra.student ?? (await student(t, s1, '2')),
        program_id: program,
        session_id: session,
        school_id: 'school' in extra ? extra.school : s1,
        status,
        amount_requested_cents: requested,
        amount_awarded_cents: extra.awarded ?? null,
        submitted_at: dates.submitted ? `${dates.submitted}T10:00:00Z` : null,
        decided_at: dates.decided ? `${dates.decided}T10:00:00Z` : null,
        ...(dates.created ? { created_at: `${dates.created}T10:00:00Z` } : {}),
      });
    // e1 approved after 10 days; disbursements: 3000.00 paid; 2000.00 after the as-of date,
    // 1000.00 scheduled and 500.00 returned do not count.
    const e1 = await app(
      az,
      cal.year,
      'approved',
      700000,
      { submitted: '2024-08-10', decided: '2024-08-20' },
      { awarded: 650000 },
    );
    const disb = (amount: number, status: string, scheduled: string, disbursed: string | null) =>
      t.insert('esa_disbursements', {
        application_id: e1,
        amount_cents: amount,
        status,
        scheduled_on: scheduled,
        disbursed_on: disbursed,
      });
    await disb(300000, 'disbursed', '2024-09-01', '2024-09-01');
    await disb(200000, 'disbursed', '2025-02-01', '2025-02-01');
    await disb(100000, 'scheduled', '2025-03-01', null);
    await disb(50000, 'returned', '2024-10-01', '2024-10-01');
    // e2 denied after 4 days; e3 pending.
    await app(az, cal.year, 'denied', 500000, { submitted: '2024-08-12', decided: '2024-08-16' });
    await app(az, cal.year, 'under_review', 400000, { submitted: '2024-09-01' });
    // e4 submitted in term 2.
    await app(fl, cal.year, 'submitted', 300000, { submitted: '2025-01-08' });
    // e5 a draft at S2 (school from the student's record).
    await app(
      fl,
      cal.year,
      'draft',
      0,
      { created: '2024-12-01' },
      { student: await student(t, s2, '2'), school: null },
    );
    // e6 approved after the as-of date: still pending as of 2025-01-15, its award not counted.
    await app(
      az,
      cal.year,
      'approved',
      100000,
      { submitted: '2025-01-02', decided: '2025-01-20' },
      { awarded: 90000 },
    );
    // e7 applies for next school year: not in this year's figures.
    await app(az, cal.nextYear, 'submitted', 800000, { submitted: '2025-01-10' });
    // e8 withdrawn: counted by status, not in amounts requested.
    await app(fl, cal.year, 'withdrawn', 200000, { submitted: '2024-10-01' });

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('counts applications by status and excludes pending ones from the approval rate', () => {
    const p = payloadOf(snaps, 'esa', null, 'school_year');
    expect(p).toMatchObject({
      applications: 7,
      by_status: { draft: 1, submitted: 1, under_review: 2, approved: 1, denied: 1, withdrawn: 1 },
      approval_rate: 0.5, // 1 approved ÷ (1 approved + 1 denied); e3, e4, e6 pending
      median_days_to_decision: 7, // median of 10 and 4
      requested_cents: 2000000, // e1 + e2 + e3 + e4 + e6 (not the draft, not the withdrawn)
      awarded_cents: 650000,
      disbursed_cents: 300000,
    });
  });

  it('breaks ESA down by programme and school', () => {
    const p = payloadOf(snaps, 'esa', null, 'school_year');
    const az = p.by_program.find((x) => x.state === 'AZ')!;
    const fl = p.by_program.find((x) => x.state === 'FL')!;
    expect(az).toMatchObject({
      applications: 4,
      approval_rate: 0.5,
      requested_cents: 1700000,
      awarded_cents: 650000,
    });
    expect(fl).toMatchObject({
      applications: 3,
      approval_rate: null,
      median_days_to_decision: null,
      requested_cents: 300000,
    });
    expect(payloadOf(snaps, 'esa', s2, 'school_year')).toMatchObject({
      applications: 1,
      by_status: { draft: 1 },
    });
  });

  it('uses the application date for the term and trailing windows', () => {
    // Term 2 [01-06, 01-15]: e4 and e7 (next year's application, dated in the window).
    expect(payloadOf(snaps, 'esa', null, 'term')).toMatchObject({
      applications: 2,
      requested_cents: 1100000,
    });
    // Last 30 days adds e6 (01-02), pending.
    expect(payloadOf(snaps, 'esa', null, 'last_30_days')).toMatchObject({
      applications: 3,
      by_status: { submitted: 2, under_review: 1 },
    });
  });
});

describe('finance', () => {
  let snaps: AnySnapshot[];
  let s1: string;
  let s2: string;

  beforeAll(async () => {
    const t = await w.tenant('finance');
    await calendar(t);
    s1 = await t.school('S1');
    s2 = await t.school('S2');
    const ac1 = await t.insert('billing_accounts', {
      account_number: 'A1',
      name: 'Family One',
      school_id: s1,
    });
    const ac2 = await t.insert('billing_accounts', {
      account_number: 'A2',
      name: 'Family Two',
      school_id: s2,
    });
    let n = 0;
    const invoice = (
      account: string,
      school: string | null,
      status: string,
      total: number,
      paid: number,
      issue: string | null,
      due: string | null,
    ) =>
      t.insert('invoices', {
        number: `INV-${++n}`,
        account_id: account,
        school_id: school,
        status,
        issue_date: issue,
        due_date: due,
        subtotal_cents: total,
        total_cents: total,
        amount_paid_cents: paid,
        balance_cents: total - paid,
      });
    const payment = (
      account: string,
      method: string,
      amount: number,
      received: string,
      status = 'succeeded',
      unapplied = 0,
    ) =>
      t.insert('payments', {
        account_id: account,
        method,
        amount_cents: amount,
        received_at: `${received}T15:00:00Z`,
        status,
        unapplied_cents: unapplied,
      });
    const allocate = (paymentId: string, invoiceId: string, amount: number) =>
      t.insert('payment_allocations', {
        payment_id: paymentId,
        invoice_id: invoiceId,
        amount_cents: amount,
      });

    // i1 paid in two partial payments (card in Sept, ESA in Oct).
    const i1 = await invoice(ac1, s1, 'paid', 100000, 100000, '2024-09-01', '2024-09-15');
    await allocate(await payment(ac1, 'card', 60000, '2024-09-10'), i1, 60000);
    await allocate(await payment(ac1, 'esa', 40000, '2024-10-05'), i1, 40000);
    // i2 partly paid, due after the as-of date: current.
    const i2 = await invoice(ac1, s1, 'open', 50000, 20000, '2024-12-01', '2025-01-31');
    await allocate(await payment(ac1, 'check', 20000, '2024-12-20'), i2, 20000);
    // i3 10 days past due (1–30), i4 46 days (31–60).
    await invoice(ac1, s1, 'open', 40000, 0, '2024-12-01', '2025-01-05');
    await invoice(ac1, s1, 'open', 30000, 0, '2024-11-01', '2024-11-30');
    // i5 (school from the account: S2) 76 days (61–90); i6 107 days (90+), partly paid.
    await invoice(ac2, null, 'open', 20000, 0, '2024-10-15', '2024-10-31');
    const i6 = await invoice(ac2, s2, 'open', 10000, 4000, '2024-09-01', '2024-09-30');
    await allocate(await payment(ac2, 'cash', 4000, '2024-10-01'), i6, 4000);
    // Draft and void invoices are never invoiced; uncollectible is invoiced but not receivable.
    await invoice(ac1, s1, 'draft', 99999, 0, null, null);
    await invoice(ac1, s1, 'void', 88888, 0, '2024-10-01', '2024-10-15');
    await invoice(ac1, s1, 'uncollectible', 15000, 0, '2024-08-15', '2024-08-30');
    // i10 is paid now, but by a payment received after the as-of date: open then, 15 days late.
    const i10 = await invoice(ac1, s1, 'paid', 25000, 25000, '2024-12-10', '2024-12-31');
    await allocate(await payment(ac1, 'esa', 25000, '2025-01-20'), i10, 25000);
    // i11 due on the as-of date itself: current.
    await invoice(ac1, s1, 'open', 1000, 0, '2025-01-08', '2025-01-15');
    // A failed payment never counts; an unapplied payment is received but not collected.
    await payment(ac1, 'card', 9999, '2024-11-11', 'failed');
    await payment(ac1, 'ach', 5000, '2024-11-20', 'succeeded', 5000);

    snaps = (await t.refresh({ asOf: AS_OF })).snapshots;
  });

  it('reports invoiced by issue month and collected by received month', () => {
    const p = payloadOf(snaps, 'finance', null, 'school_year');
    expect(p.months).toEqual([
      { month: '2024-08', invoiced_cents: 15000, collected_cents: 0, payments_cents: 0 },
      { month: '2024-09', invoiced_cents: 110000, collected_cents: 60000, payments_cents: 60000 },
      { month: '2024-10', invoiced_cents: 20000, collected_cents: 44000, payments_cents: 44000 },
      { month: '2024-11', invoiced_cents: 30000, collected_cents: 0, payments_cents: 5000 },
      { month: '2024-12', invoiced_cents: 115000, collected_cents: 20000, payments_cents: 20000 },
      { month: '2025-01', invoiced_cents: 1000, collected_cents: 0, payments_cents: 0 },
    ]);
    expect(p).toMatchObject({ invoiced_cents: 291000, collected_cents: 124000 });
    // Invoices issued in the window: 291000; paid on them by the as-of date: 124000.
    expect(p.collection_rate).toEqual(
      near({
        invoiced_cents: 291000,
        collected_cents: 124000,
        rate: 0.4261,
      }),
    );
  });

  it('ages open balances by days past due, with partial payments and later payments rolled back', () => {
    const p = payloadOf(snaps, 'finance', null, 'school_year');
    expect(p.ar_aging).toEqual([
      { bucket: 'current', invoices: 2, balance_cents: 31000 }, // i2 30000, i11 1000
      { bucket: '1_30', invoices: 2, balance_cents: 65000 }, // i3 40000, i10 25000
      { bucket: '31_60', invoices: 1, balance_cents: 30000 }, // i4
      { bucket: '61_90', invoices: 1, balance_cents: 20000 }, // i5
      { bucket: '90_plus', invoices: 1, balance_cents: 6000 }, // i6 after its partial payment
    ]);
    expect(p.outstanding).toEqual({ open_invoices: 7, balance_cents: 152000 });
    // Point in time: the same in every period.
    expect(payloadOf(snaps, 'finance', null, 'term').outstanding).toEqual(p.outstanding);
  });

  it('computes the ESA share of successful payments and splits finance by school', () => {
    const p = payloadOf(snaps, 'finance', null, 'school_year');
    // 40000 ESA of 129000 received (60000 + 40000 + 20000 + 4000 + 5000 unapplied).
    expect(p.esa_share).toEqual(near({ esa_cents: 40000, total_cents: 129000, rate: 0.3101 }));
    const school2 = payloadOf(snaps, 'finance', s2, 'school_year');
    expect(school2).toMatchObject({
      invoiced_cents: 30000,
      collected_cents: 4000,
      outstanding: { open_invoices: 2, balance_cents: 26000 },
    });
    expect(payloadOf(snaps, 'finance', s1, 'school_year').outstanding).toEqual({
      open_invoices: 5,
      balance_cents: 126000,
    });
    expect(p.by_school.map((s) => s.school_id).sort()).toEqual([s1, s2].sort());
  });

  it('restricts flows to the window', () => {
    // Term 2: only i11 (issued 01-08) was invoiced; nothing was collected.
    expect(payloadOf(snaps, 'finance', null, 'term')).toMatchObject({
      months: [{ month: '2025-01', invoiced_cents: 1000, collected_cents: 0, payments_cents: 0 }],
      invoiced_cents: 1000,
      esa_share: { rate: null },
    });
  });
});
