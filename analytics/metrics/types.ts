/**
 * The published shape of every metric snapshot. `GET /v1/metrics/:metric` and the
 * dashboards render these payloads, so keys are snake_case and stable: a breaking change
 * needs a new metric version, not an edit here.
 *
 * Conventions for every payload:
 * - `*_cents` are integer cents; `*_percent` are 0–100; `*_rate` and `rate` are 0–1
 *   fractions; `median_days*` are days of 24 h; `gpa` is on the 4.0 scale. None of them is
 *   rounded: rounding happens once, where a figure is shown (dashboards/format.ts), so a
 *   client of `GET /v1/metrics` rounds for display itself.
 * - A ratio with a zero denominator is `null`, never 0.
 * - Dates are `YYYY-MM-DD`: a fact's date is its local date in its school's time zone (the
 *   tenant's for a fact with no school). Ids are UUID strings.
 * - Lists are sorted by their key (date, id, code) so equal data gives equal JSON.
 */

export const METRIC_NAMES = ['lead_funnel', 'attendance', 'grades', 'esa', 'finance'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type ScopeKind = 'tenant' | 'school';
export const METRIC_PERIODS = ['school_year', 'term', 'last_30_days'] as const;
export type MetricPeriod = (typeof METRIC_PERIODS)[number];

/** The dates a snapshot covers: [start, end], end never after the as-of date. */
export interface MetricWindow {
  start: string;
  end: string;
  /** `session`: an academic session; `fallback`: no session matched (see context.ts). */
  source: 'session' | 'fallback' | 'trailing';
  /** The academic session the window comes from, if any. */
  session_id: string | null;
}

// ---------------------------------------------------------------- lead funnel

export interface FunnelStage {
  key: string;
  /** Leads that reached this stage or a later one (lost leads: the stage they were lost from). */
  reached: number;
  /** reached(this) ÷ reached(previous); null for the first stage. */
  conversion_from_previous: number | null;
  /** Median days from entering the previous stage to entering this one (leads with both). */
  median_days_from_previous: number | null;
  /** Leads lost while at this stage. */
  lost: number;
}

export interface FunnelBreakdown {
  /** Aligned with `stage_keys`. */
  reached: number[];
  leads: number;
  /** reached(last) ÷ reached(first). */
  conversion_rate: number | null;
}

export interface LeadFunnelPayload {
  window: MetricWindow;
  /** Cohort: leads whose inquiry (first touch) date falls in the window. */
  leads: number;
  /** Non-terminal funnel stages in order. */
  stage_keys: string[];
  stages: FunnelStage[];
  /** From the first to the last stage (default inquiry → enrolled). */
  inquiry_to_enrolled: { from: string; to: string; rate: number | null };
  lost: { total: number; by_stage: { stage: string; count: number }[] };
  /**
   * Leads of the cohort converted into a student record by the as-of date (`converted_at`,
   * local date in the school's zone). Not the last stage's `reached`: a lead can reach
   * `enrolled` before its record is created.
   */
  converted_to_student: number;
  /** By first-touch source (`unknown` when none). */
  by_source: (FunnelBreakdown & { source: string })[];
  /** By ISO week (Monday) of the inquiry date. */
  by_week: (FunnelBreakdown & { week_start: string })[];
}

// ---------------------------------------------------------------- attendance

export interface AttendanceFigures {
  students: number;
  membership_days: number;
  /** present + tardy + early_departure. */
  present_days: number;
  /** absent + excused_absence. */
  absent_days: number;
  excused_absence_days: number;
  /** Membership days with no daily record: membership, not present, not absent. */
  unmarked_days: number;
  /** Membership days with a daily record: present_days + absent_days. */
  marked_days: number;
  /** present_days ÷ marked_days × 100, unrounded (unmarked days are never absences). */
  ada_percent: number | null;
  /** marked_days ÷ membership_days × 100, unrounded: how much of the membership ADA covers. */
  completeness_percent: number | null;
  /** Students with ≥ 10 marked membership days in the window. */
  chronic_eligible: number;
  /** Eligible students whose absent_days ≥ 10 % of their marked membership days. */
  chronically_absent: number;
  /** chronically_absent ÷ chronic_eligible, unrounded. */
  chronic_absence_rate: number | null;
}

export interface AttendancePayload extends AttendanceFigures {
  window: MetricWindow;
  daily: {
    date: string;
    membership: number;
    /** present + absent. */
    marked: number;
    present: number;
    absent: number;
    unmarked: number;
    /** present ÷ marked × 100, unrounded. */
    rate_percent: number | null;
  }[];
  /**
   * Day figures by the grade of each membership day; students and chronic figures by the
   * student's latest grade in the window.
   */
  by_grade: (AttendanceFigures & { grade_level: string })[];
  by_school: (AttendanceFigures & {
    school_id: string;
    instructional_days: number;
    days_without_attendance: number;
  })[];
  completeness: {
    /** School instructional days in the window (a day at two schools counts twice). */
    instructional_days: number;
    /** Of those, days on which the school recorded no attendance at all. */
    days_without_attendance: number;
    /** Up to 400 school days without attendance, oldest first. */
    missing: { school_id: string; date: string }[];
    missing_truncated: boolean;
  };
}

// ---------------------------------------------------------------- grades

export interface LetterCount {
  letter: string;
  min_percent: number;
  count: number;
}

export interface GradeFigures {
  /** Distinct students with at least one class percentage. */
  students: number;
  /** (student, class) pairs with a percentage. */
  student_classes: number;
  /** Mean of the (student, class) percentages. */
  average_percent: number | null;
  letters: LetterCount[];
  /** Distinct students below 60 % in at least one class. */
  failing_students: number;
  /** failing_students ÷ students: a share of students (not of class grades). */
  failing_rate: number | null;
  missing_scores: number;
  /** Scores on assignments due by the as-of date, excused ones left out. */
  scores_due: number;
  missing_rate: number | null;
}

export interface GpaFigures {
  /** Σ(grade points × credits attempted) ÷ Σ credits attempted; 4.0 scale. */
  gpa: number | null;
  credits_attempted: number;
  completed_enrollments: number;
}

export interface GradesPayload extends GradeFigures, GpaFigures {
  window: MetricWindow;
  by_subject: (GradeFigures & GpaFigures & { subject: string })[];
  by_school: (GradeFigures & GpaFigures & { school_id: string })[];
  /**
   * Per class, in class id order. A class belongs to one school, so its figures are in its
   * school's snapshots; the tenant's snapshot lists none (its `by_school` and `by_subject`
   * compare schools and subjects).
   */
  classes: ClassGradeFigures[];
}

/**
 * A class's figures, compact (a school lists hundreds): each student has one row per class,
 * so `students` is also the class's (student, class) count; rates are the counts' ratios
 * (`failing_students ÷ students`, `missing_scores ÷ scores_due`).
 */
export interface ClassGradeFigures {
  class_id: string;
  course_id: string | null;
  subject: string;
  /** Students with a percentage in the class. */
  students: number;
  average_percent: number | null;
  /** Students per letter, in the order of the payload's `letters`. */
  letter_counts: number[];
  failing_students: number;
  missing_scores: number;
  scores_due: number;
}

// ---------------------------------------------------------------- ESA

export const ESA_STATUSES = [
  'draft',
  'submitted',
  'under_review',
  'approved',
  'denied',
  'withdrawn',
] as const;

export interface EsaFigures {
  /**
   * `school_year`: applications for a school year that overlaps the window; `term` and
   * `last_30_days`: applications dated in the window (so they differ even for equal windows).
   */
  applications: number;
  by_status: Record<(typeof ESA_STATUSES)[number], number>;
  /** approved ÷ (approved + denied); pending applications are not in it. */
  approval_rate: number | null;
  /** Median elapsed days (24 h) from submitted to decided, over decided applications. */
  median_days_to_decision: number | null;
  /** Requested by applications that were submitted (not draft, not withdrawn). */
  requested_cents: number;
  awarded_cents: number;
  /** Disbursements with status disbursed on or before the as-of date. */
  disbursed_cents: number;
}

export interface EsaPayload extends EsaFigures {
  window: MetricWindow;
  by_program: (EsaFigures & { program_id: string; state: string | null })[];
  by_school: (EsaFigures & { school_id: string | null })[];
}

// ---------------------------------------------------------------- finance

export const AGING_BUCKETS = ['current', '1_30', '31_60', '61_90', '90_plus'] as const;

export interface FinancePayload {
  window: MetricWindow;
  /** Calendar months overlapping the window; only facts inside the window count. */
  months: {
    month: string;
    /** Non-draft, non-void invoices by issue date. */
    invoiced_cents: number;
    /** Allocations of succeeded payments to invoices, by the payment's received date. */
    collected_cents: number;
    /** Every succeeded payment, allocated or not, by received date. */
    payments_cents: number;
  }[];
  invoiced_cents: number;
  collected_cents: number;
  /** Of the invoices issued in the window: paid by the as-of date ÷ invoiced. */
  collection_rate: { invoiced_cents: number; collected_cents: number; rate: number | null };
  /** Point in time (the as-of date), the same for every period. */
  outstanding: { open_invoices: number; balance_cents: number };
  ar_aging: { bucket: (typeof AGING_BUCKETS)[number]; invoices: number; balance_cents: number }[];
  /** ESA-method share of succeeded payments received in the window, by amount. */
  esa_share: { esa_cents: number; total_cents: number; rate: number | null };
  by_school: {
    school_id: string | null;
    invoiced_cents: number;
    collected_cents: number;
    open_invoices: number;
    outstanding_cents: number;
  }[];
}

export interface MetricPayloads {
  lead_funnel: LeadFunnelPayload;
  attendance: AttendancePayload;
  grades: GradesPayload;
  esa: EsaPayload;
  finance: FinancePayload;
}

/** One published figure set: a metric for one scope and period, as of a date. */
export interface MetricSnapshot<M extends MetricName = MetricName> {
  metric: M;
  scopeKind: ScopeKind;
  /** The school's org unit id; null for the tenant. */
  scopeId: string | null;
  period: MetricPeriod;
  /** `YYYY-MM-DD`. */
  asOf: string;
  payload: MetricPayloads[M];
}

export type AnySnapshot = { [M in MetricName]: MetricSnapshot<M> }[MetricName];
