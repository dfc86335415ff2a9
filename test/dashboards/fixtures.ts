import type {
  AnySnapshot,
  AttendanceFigures,
  AttendancePayload,
  EsaFigures,
  EsaPayload,
  FinancePayload,
  GradeFigures,
  GradesPayload,
  LeadFunnelPayload,
  MetricWindow,
} from '../../analytics/metrics/types.js';

/**
 * Deterministic metric payloads for dashboard tests: a tenant with two schools, North with
 * a full year of figures and South with gaps (no decided ESA applications, no final
 * grades, a day without attendance, no finance snapshot) so every empty state shows.
 */

export const AS_OF = '2026-02-02';
export const DATA_AS_OF = '2026-02-02T06:15:00.000Z';
export const NORTH = '11111111-1111-4111-8111-111111111111';
export const SOUTH = '22222222-2222-4222-8222-222222222222';
/** A school with figures but no org unit name (deleted or renamed away). */
export const UNNAMED = '33333333-3333-4333-8333-333333333333';
export const SCHOOLS = [
  { id: NORTH, name: 'North Campus' },
  { id: SOUTH, name: 'South <Campus> & Annex' },
];

const WINDOW: MetricWindow = {
  start: '2025-08-18',
  end: AS_OF,
  source: 'session',
  session_id: null,
};
const RECENT: MetricWindow = {
  start: '2026-01-04',
  end: AS_OF,
  source: 'trailing',
  session_id: null,
};

/** A small seeded generator (mulberry32): equal seeds give equal figures. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;
/** Payloads carry unrounded ratios, as the warehouse publishes them (display rounds once). */
const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

function schoolDays(start: string, end: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); t <= Date.parse(`${end}T00:00:00Z`); t += 864e5) {
    const d = new Date(t);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

function attendanceFigures(
  students: number,
  days: number,
  absentShare: number,
  chronic: number,
  unmarked = 0,
): AttendanceFigures {
  const membership = students * days;
  const marked = membership - unmarked;
  const absent = Math.round(marked * absentShare);
  const present = marked - absent;
  const eligible = students;
  return {
    students,
    membership_days: membership,
    present_days: present,
    absent_days: absent,
    excused_absence_days: Math.round(absent / 3),
    unmarked_days: unmarked,
    marked_days: marked,
    ada_percent: ratio(present * 100, marked),
    completeness_percent: ratio(marked * 100, membership),
    chronic_eligible: eligible,
    chronically_absent: chronic,
    chronic_absence_rate: ratio(chronic, eligible),
  };
}

function attendance(
  seed: number,
  schools: string[],
  window: MetricWindow,
  missingDay: boolean,
): AttendancePayload {
  const r = rng(seed);
  const days = schoolDays(window.start, window.end);
  const students = 40 * schools.length;
  const daily = days.map((date, i) => {
    const unmarked = missingDay && i === days.length - 3 ? students : 0;
    const absent = unmarked ? 0 : Math.round(students * (0.03 + 0.06 * r()));
    const present = students - absent - unmarked;
    return {
      date,
      membership: students,
      marked: students - unmarked,
      present,
      absent,
      unmarked,
      rate_percent: ratio(present * 100, students - unmarked),
    };
  });
  // As published: sorted by key, so '10' comes before '2' and 'K' last.
  const grades = ['1', '10', '2', 'K'];
  const by_grade = grades.map((g, i) => ({
    grade_level: g,
    ...attendanceFigures(students / 4, days.length, 0.04 + 0.01 * i, 1 + i),
  }));
  const by_school = schools.map((school_id, i) => ({
    school_id,
    instructional_days: days.length,
    days_without_attendance: missingDay ? 1 : 0,
    ...attendanceFigures(40, days.length, 0.05 + 0.02 * i, 3 + 2 * i),
  }));
  const total = attendanceFigures(
    students,
    days.length,
    0.05 + 0.01 * schools.length,
    3 * schools.length,
    missingDay ? students : 0,
  );
  return {
    window,
    ...total,
    daily,
    by_grade,
    by_school,
    completeness: {
      instructional_days: days.length * schools.length,
      days_without_attendance: missingDay ? schools.length : 0,
      missing: missingDay
        ? schools.map((school_id) => ({ school_id, date: days[days.length - 3]! }))
        : [],
      missing_truncated: false,
    },
  };
}

const STAGES = ['inquiry', 'tour_scheduled', 'toured', 'applied', 'accepted', 'enrolled'];

function leadFunnel(seed: number, leads: number): LeadFunnelPayload {
  const r = rng(seed);
  let reached = leads;
  const reachedBy: number[] = [];
  const stages = STAGES.map((key, i) => {
    if (i > 0) reached = Math.round(reached * (0.55 + 0.3 * r()));
    reachedBy.push(reached);
    return {
      key,
      reached,
      conversion_from_previous: i === 0 ? null : ratio(reached, reachedBy[i - 1]!),
      median_days_from_previous: i === 0 ? null : round(2 + 10 * r(), 1),
      lost: i === STAGES.length - 1 ? 0 : Math.round(2 * r()),
    };
  });
  const lostBy = stages.filter((s) => s.lost > 0).map((s) => ({ stage: s.key, count: s.lost }));
  const sources = ['open_house', 'referral', 'website', 'unknown'];
  const split = (n: number, k: number, i: number) => Math.floor(n / k) + (i < n % k ? 1 : 0);
  const by_source = sources.map((source, i) => {
    const reached = stages.map((s) => split(s.reached, sources.length, i));
    return {
      source,
      reached,
      leads: reached[0]!,
      conversion_rate: ratio(reached.at(-1)!, reached[0]!),
    };
  });
  // A source nobody came through yet: its conversion is a ratio over zero.
  by_source.push({
    source: 'radio',
    reached: stages.map(() => 0),
    leads: 0,
    conversion_rate: null,
  });
  const weeks = ['2026-01-05', '2026-01-12', '2026-01-19', '2026-01-26'];
  const by_week = weeks.map((week_start, i) => {
    const reached = stages.map((s) => split(s.reached, weeks.length, i));
    return {
      week_start,
      reached,
      leads: reached[0]!,
      conversion_rate: ratio(reached.at(-1)!, reached[0]!),
    };
  });
  return {
    window: WINDOW,
    leads,
    stage_keys: STAGES,
    stages,
    inquiry_to_enrolled: {
      from: 'inquiry',
      to: 'enrolled',
      rate: ratio(stages.at(-1)!.reached, leads),
    },
    lost: { total: lostBy.reduce((n, l) => n + l.count, 0), by_stage: lostBy },
    converted_to_student: stages.at(-1)!.reached,
    by_source,
    by_week,
  };
}

function gradeFigures(students: number, seed: number, graded = true): GradeFigures {
  const r = rng(seed);
  const counts = graded
    ? [0.35, 0.3, 0.2, 0.1, 0.05].map((s) => Math.round(students * 3 * s * (0.8 + 0.4 * r())))
    : [0, 0, 0, 0, 0];
  const pairs = counts.reduce((n, c) => n + c, 0);
  const failing = graded ? Math.round(students * 0.08) : 0;
  const due = graded ? students * 40 : 0;
  const missing = Math.round(due * 0.04);
  return {
    students: graded ? students : 0,
    student_classes: pairs,
    average_percent: graded ? round(78 + 8 * r(), 2) : null,
    letters: ['A', 'B', 'C', 'D', 'F'].map((letter, i) => ({
      letter,
      min_percent: [90, 80, 70, 60, 0][i]!,
      count: counts[i]!,
    })),
    failing_students: failing,
    failing_rate: ratio(failing, graded ? students : 0),
    missing_scores: missing,
    scores_due: due,
    missing_rate: ratio(missing, due),
  };
}

function grades(seed: number, schools: string[], finals: boolean): GradesPayload {
  const gpa = (s: number) =>
    finals
      ? { gpa: round(2.6 + s / 10, 2), credits_attempted: 120, completed_enrollments: 60 }
      : { gpa: null, credits_attempted: 0, completed_enrollments: 0 };
  return {
    window: WINDOW,
    ...gradeFigures(40 * schools.length, seed, finals),
    ...gpa(seed % 7),
    by_subject: ['math', 'english', 'science'].map((subject, i) => ({
      subject,
      ...gradeFigures(40, seed + i, finals),
      ...gpa(i),
    })),
    by_school: schools.map((school_id, i) => ({
      school_id,
      ...gradeFigures(40, seed + 10 + i, finals),
      ...gpa(i + 2),
    })),
    classes: [],
  };
}

function esaFigures(decided: boolean, scale: number): EsaFigures {
  const by_status = {
    draft: 2 * scale,
    submitted: 3 * scale,
    under_review: 2 * scale,
    approved: decided ? 6 * scale : 0,
    denied: decided ? 1 * scale : 0,
    withdrawn: scale,
  };
  const applications = Object.values(by_status).reduce((n, c) => n + c, 0);
  return {
    applications,
    by_status,
    approval_rate: ratio(by_status.approved, by_status.approved + by_status.denied),
    median_days_to_decision: decided ? 12.5 : null,
    requested_cents: 700_000_00 * scale,
    awarded_cents: decided ? 420_000_00 * scale : 0,
    disbursed_cents: decided ? 210_000_00 * scale : 0,
  };
}

function esa(decided: boolean, schools: (string | null)[]): EsaPayload {
  return {
    window: WINDOW,
    ...esaFigures(decided, schools.length),
    by_program: [
      {
        program_id: '44444444-4444-4444-8444-444444444444',
        state: 'AZ',
        ...esaFigures(decided, schools.length),
      },
    ],
    by_school: schools.map((school_id) => ({ school_id, ...esaFigures(decided, 1) })),
  };
}

function finance(schools: (string | null)[]): FinancePayload {
  const months = ['2025-08', '2025-09', '2025-10', '2025-11', '2025-12', '2026-01', '2026-02'].map(
    (month, i) => ({
      month,
      invoiced_cents: i === 6 ? 0 : 9_500_000 + 250_000 * i,
      collected_cents: i === 6 ? 125_050 : 8_900_000 + 180_000 * i,
      payments_cents: i === 6 ? 125_050 : 9_000_000 + 180_000 * i,
    }),
  );
  const invoiced = months.reduce((n, m) => n + m.invoiced_cents, 0);
  const collected = months.reduce((n, m) => n + m.collected_cents, 0);
  return {
    window: WINDOW,
    months,
    invoiced_cents: invoiced,
    collected_cents: collected,
    collection_rate: {
      invoiced_cents: invoiced,
      collected_cents: collected,
      rate: ratio(collected, invoiced),
    },
    outstanding: { open_invoices: 23, balance_cents: invoiced - collected },
    ar_aging: [
      { bucket: 'current', invoices: 9, balance_cents: 1_800_000 },
      { bucket: '1_30', invoices: 6, balance_cents: 1_100_000 },
      { bucket: '31_60', invoices: 4, balance_cents: 650_000 },
      { bucket: '61_90', invoices: 2, balance_cents: 300_000 },
      { bucket: '90_plus', invoices: 2, balance_cents: invoiced - collected - 3_850_000 },
    ],
    esa_share: { esa_cents: Math.round(collected * 0.31), total_cents: collected, rate: 0.31 },
    by_school: schools.map((school_id, i) => ({
      school_id,
      invoiced_cents: Math.round(invoiced / schools.length),
      collected_cents: Math.round(collected / schools.length),
      open_invoices: 10 + i,
      outstanding_cents: Math.round((invoiced - collected) / schools.length) + 1000 * i,
    })),
  };
}

const snap = (
  metric: AnySnapshot['metric'],
  scopeId: string | null,
  period: AnySnapshot['period'],
  payload: AnySnapshot['payload'],
): AnySnapshot =>
  ({
    metric,
    scopeKind: scopeId ? 'school' : 'tenant',
    scopeId,
    period,
    asOf: AS_OF,
    payload,
  }) as AnySnapshot;

/** Every snapshot of one publication (school-year and last-30-days periods). */
export function fixtureSnapshots(): AnySnapshot[] {
  const all = [NORTH, SOUTH, UNNAMED];
  return [
    snap('lead_funnel', null, 'school_year', leadFunnel(1, 180)),
    snap('attendance', null, 'school_year', attendance(2, all, WINDOW, true)),
    snap('attendance', null, 'last_30_days', attendance(3, all, RECENT, true)),
    snap('grades', null, 'school_year', grades(4, all, true)),
    snap('esa', null, 'school_year', esa(true, [...all, null])),
    snap('finance', null, 'school_year', finance([...all, null])),

    snap('lead_funnel', NORTH, 'school_year', leadFunnel(5, 90)),
    snap('attendance', NORTH, 'school_year', attendance(6, [NORTH], WINDOW, false)),
    snap('attendance', NORTH, 'last_30_days', attendance(7, [NORTH], RECENT, false)),
    snap('grades', NORTH, 'school_year', grades(8, [NORTH], true)),
    snap('esa', NORTH, 'school_year', esa(true, [NORTH])),
    snap('finance', NORTH, 'school_year', finance([NORTH])),

    snap('lead_funnel', SOUTH, 'school_year', leadFunnel(9, 60)),
    snap('attendance', SOUTH, 'school_year', attendance(10, [SOUTH], WINDOW, true)),
    snap('attendance', SOUTH, 'last_30_days', attendance(11, [SOUTH], RECENT, true)),
    snap('grades', SOUTH, 'school_year', grades(12, [SOUTH], false)),
    snap('esa', SOUTH, 'school_year', esa(false, [SOUTH])),

    snap('lead_funnel', UNNAMED, 'school_year', leadFunnel(13, 0)),
  ];
}
