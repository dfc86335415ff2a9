import type { MetricInputTable } from '../db/metric-inputs.js';

/**
 * What the warehouse holds: every extracted table, its columns, the PostgreSQL expression
 * each column is read with, its DuckDB type, and why it may be there.
 *
 * This catalog is the single place that decides what leaves a tenant branch
 * (docs/tenancy-and-security.md#what-never-leaves-the-branch): ids, org units, grade levels, dates,
 * statuses, amounts and categorical codes — never names, emails, phones, addresses, free-text
 * notes, messages, reasons or comments, and no URLs that a family could have typed into. A column
 * not listed here is never read.
 *
 * Text columns are read through `code()`, which strips the characters COPY's text format
 * would escape (tab, newline, carriage return, backspace, form feed, vertical tab,
 * backslash). That keeps every extracted line parseable by DuckDB's CSV reader with no
 * quoting at all — the fastest path — and these columns are categorical, so nothing of
 * value is lost.
 */

/** The characters COPY's text format escapes; removed from categorical text columns. */
const COPY_SPECIALS = 'chr(9)||chr(10)||chr(13)||chr(8)||chr(12)||chr(11)||chr(92)';

/** A categorical text value: COPY-special characters removed, at most 100 characters. */
export const code = (expr: string) => `left(translate(${expr}, ${COPY_SPECIALS}, ''), 100)`;

/**
 * A timestamptz as the instant it is, written as UTC wall-clock time: durations between
 * instants are exact across daylight-saving changes, and each fact's local date is taken in
 * its school's zone by the metrics (`localDate` in metrics/context.ts).
 */
const instant = (column: string) => `(${column} at time zone 'UTC')`;

/**
 * Lost reasons the warehouse may hold. `leads.lost_reason` is free text in the schema, so a
 * value enters DuckDB only when it normalises to one of these codes; anything else is
 * `other`. (Recommended schema change: make lost_reason a check-constrained code.)
 */
export const LOST_REASON_CODES = [
  'chose_another_school',
  'tuition_cost',
  'no_response_after_follow_up',
  'no_response',
  'moved_out_of_area',
  'transportation',
  'not_eligible_for_esa_funding',
  'not_eligible',
  'grade_level_full',
  'schedule_did_not_fit',
  'other',
] as const;

const lostReason = () => {
  const normalised = `trim(both '_' from regexp_replace(lower(lost_reason), '[^a-z0-9]+', '_', 'g'))`;
  const list = LOST_REASON_CODES.map((c) => `'${c}'`).join(', ');
  return `case when lost_reason is null then null when ${normalised} in (${list}) then ${normalised} else 'other' end`;
};

/** Host of a referrer URL (`https://user@www.google.com/x?q=…` → `www.google.com`). */
const referrerHost = () =>
  code(`lower(substring(referrer from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)'))`);

export type DuckType =
  | 'UUID'
  | 'VARCHAR'
  | 'DATE'
  | 'TIMESTAMP'
  | 'BOOLEAN'
  | 'INTEGER'
  | 'BIGINT'
  | `DECIMAL(${number},${number})`;

export interface WarehouseColumn {
  name: string;
  type: DuckType;
  /** PostgreSQL expression the column is extracted with (defaults to the column itself). */
  select: string;
  /** Why the column may be in the warehouse; the privacy review reads this. */
  why: string;
}

export interface WarehouseTable {
  name: string;
  /** Whether the branch table soft-deletes (`deleted_at`); soft-deleted rows never stay. */
  softDelete: boolean;
  columns: readonly WarehouseColumn[];
}

type ColumnSpec = [name: string, type: DuckType, why: string, select?: string];

/** Only a metric input may be extracted: a write to it is what enqueues a refresh. */
function table(name: MetricInputTable, softDelete: boolean, specs: ColumnSpec[]): WarehouseTable {
  const columns = specs.map(([n, type, why, select]) => ({
    name: n,
    type,
    why,
    select: select ?? (type === 'VARCHAR' ? code(n) : n),
  }));
  return { name, softDelete, columns: [ID, ...columns] };
}

const ID: WarehouseColumn = { name: 'id', type: 'UUID', select: 'id', why: 'row key' };

/** Every table the metrics read, in extraction order (small dimensions first). */
export const WAREHOUSE_TABLES: readonly WarehouseTable[] = [
  table('org_units', true, [
    ['parent_id', 'UUID', 'hierarchy: a school scope includes its campuses'],
    ['kind', 'VARCHAR', 'which org units are schools'],
    ['status', 'VARCHAR', 'categorical'],
    ['timezone', 'VARCHAR', "IANA zone: a school's dates are in its own zone"],
  ]),
  table('academic_sessions', true, [
    ['org_unit_id', 'UUID', 'which school (or ancestor) a session belongs to'],
    ['parent_id', 'UUID', 'year › term › grading period'],
    ['kind', 'VARCHAR', 'school_year / term windows'],
    ['start_date', 'DATE', 'window bounds'],
    ['end_date', 'DATE', 'window bounds'],
  ]),
  table('calendar_days', true, [
    ['school_id', 'UUID', 'membership days are per school'],
    ['session_id', 'UUID', 'calendar of which session'],
    ['date', 'DATE', 'the day'],
    ['kind', 'VARCHAR', 'only instructional days count'],
  ]),
  table('students', true, [
    ['school_id', 'UUID', 'current school'],
    ['grade_level', 'VARCHAR', 'breakdown by grade'],
    ['status', 'VARCHAR', 'categorical'],
    ['iep', 'BOOLEAN', 'programme flag for breakdowns (no diagnosis detail)'],
    ['section_504', 'BOOLEAN', 'programme flag for breakdowns (no diagnosis detail)'],
  ]),
  table('school_enrollments', true, [
    ['student_id', 'UUID', 'pseudonymous key'],
    ['school_id', 'UUID', 'membership school'],
    ['session_id', 'UUID', 'school year of the enrolment'],
    ['grade_level', 'VARCHAR', 'grade during the enrolment'],
    ['status', 'VARCHAR', 'categorical'],
    ['entry_date', 'DATE', 'membership starts'],
    ['exit_date', 'DATE', 'membership ends (inclusive); null = open'],
  ]),
  table('courses', true, [
    ['org_unit_id', 'UUID', 'owning unit'],
    ['subject', 'VARCHAR', 'grades by subject'],
    ['credits', 'DECIMAL(4,2)', 'fallback credits for GPA'],
  ]),
  table('classes', true, [
    ['course_id', 'UUID', 'subject via course'],
    ['session_id', 'UUID', 'term of the class'],
    ['school_id', 'UUID', 'grades by school'],
    ['grading_scale_id', 'UUID', 'class scale (reported; letters use the tenant default)'],
    ['status', 'VARCHAR', 'categorical'],
  ]),
  table('class_enrollments', true, [
    ['class_id', 'UUID', 'which class'],
    ['student_id', 'UUID', 'pseudonymous key'],
    ['status', 'VARCHAR', 'completed enrolments carry final grades'],
    ['entry_date', 'DATE', 'dates'],
    ['exit_date', 'DATE', 'dates'],
    ['final_percent', 'DECIMAL(5,2)', 'final grade'],
    ['final_grade', 'VARCHAR', 'final letter'],
    ['grade_points', 'DECIMAL(3,2)', 'GPA numerator'],
    ['credits_attempted', 'DECIMAL(4,2)', 'GPA weight'],
    ['credits_earned', 'DECIMAL(4,2)', 'credits'],
  ]),
  table('assignments', true, [
    ['class_id', 'UUID', 'which class'],
    ['category', 'VARCHAR', 'categorical (the title is free text and stays behind)'],
    ['points_possible', 'DECIMAL(7,2)', 'percentage denominator'],
    ['weight', 'DECIMAL(5,2)', 'weighting'],
    ['due_date', 'DATE', 'due by the as-of date'],
  ]),
  table('scores', true, [
    ['assignment_id', 'UUID', 'which assignment'],
    ['student_id', 'UUID', 'pseudonymous key'],
    ['points', 'DECIMAL(7,2)', 'percentage numerator (comment stays behind)'],
    ['is_late', 'BOOLEAN', 'flag'],
    ['is_missing', 'BOOLEAN', 'missing counts as 0 and in the missing rate'],
    ['is_excused', 'BOOLEAN', 'excused scores are left out'],
    [
      'graded_at',
      'TIMESTAMP',
      'a score graded after the as-of date is not yet in it',
      instant('graded_at'),
    ],
  ]),
  table('attendance_records', true, [
    ['student_id', 'UUID', 'pseudonymous key'],
    ['school_id', 'UUID', 'where it was taken'],
    ['class_id', 'UUID', 'period records'],
    ['date', 'DATE', 'the day'],
    ['period', 'VARCHAR', 'null = the daily record'],
    ['status', 'VARCHAR', 'present/absent/tardy/… (reason and note stay behind)'],
  ]),
  table('funnel_stages', true, [
    ['key', 'VARCHAR', 'stage code'],
    ['position', 'INTEGER', 'stage order'],
    ['is_terminal', 'BOOLEAN', 'lost is terminal, not a funnel step'],
  ]),
  table('leads', true, [
    ['school_id', 'UUID', 'school of interest'],
    ['stage', 'VARCHAR', 'current stage code'],
    ['grade_interest', 'VARCHAR', 'grade code'],
    ['source', 'VARCHAR', 'first-touch source (utm_source-like code)'],
    ['first_touch_at', 'TIMESTAMP', 'inquiry instant (UTC)', instant('first_touch_at')],
    ['lost_at', 'TIMESTAMP', 'when lost (UTC)', instant('lost_at')],
    ['lost_reason', 'VARCHAR', 'allow-listed code or "other" (never free text)', lostReason()],
    [
      'converted_at',
      'TIMESTAMP',
      'when converted to a student record, UTC (the student id is not needed)',
      instant('converted_at'),
    ],
  ]),
  table('lead_stage_history', false, [
    ['lead_id', 'UUID', 'which lead'],
    ['from_stage', 'VARCHAR', 'stage code'],
    ['to_stage', 'VARCHAR', 'stage code'],
    [
      'changed_at',
      'TIMESTAMP',
      'instant of the move, UTC (note stays behind)',
      instant('changed_at'),
    ],
  ]),
  table('lead_touchpoints', false, [
    ['lead_id', 'UUID', 'which lead'],
    ['kind', 'VARCHAR', 'categorical'],
    ['channel', 'VARCHAR', 'categorical'],
    ['utm_source', 'VARCHAR', 'campaign attribution set by the marketer'],
    ['utm_medium', 'VARCHAR', 'campaign attribution set by the marketer'],
    ['utm_campaign', 'VARCHAR', 'campaign attribution set by the marketer'],
    ['utm_content', 'VARCHAR', 'ad variant set by the marketer'],
    // utm_term (search keywords a family typed), the full referrer and the landing page
    // (query strings can carry emails or names) and details stay behind.
    ['referrer_host', 'VARCHAR', 'host of the referrer only', referrerHost()],
    ['occurred_at', 'TIMESTAMP', 'instant (UTC)', instant('occurred_at')],
  ]),
  table('grading_scales', true, [
    ['is_default', 'BOOLEAN', 'the tenant default scale'],
    // jsonb text may hold backslash escapes; base64 keeps the line format unambiguous.
    [
      'bands_base64',
      'VARCHAR',
      'letter bands {letter, min_percent, points}',
      `translate(encode(convert_to(bands::text, 'UTF8'), 'base64'), chr(10), '')`,
    ],
  ]),
  table('billing_accounts', true, [
    ['school_id', 'UUID', 'finance by school (account name and number stay behind)'],
    ['status', 'VARCHAR', 'categorical'],
  ]),
  table('invoices', true, [
    ['account_id', 'UUID', 'school fallback via account'],
    ['student_id', 'UUID', 'pseudonymous key'],
    ['school_id', 'UUID', 'finance by school'],
    ['issue_date', 'DATE', 'invoiced month'],
    ['due_date', 'DATE', 'AR aging'],
    ['status', 'VARCHAR', 'draft/open/paid/void/uncollectible (memo stays behind)'],
    ['currency', 'VARCHAR', 'ISO code'],
    ['total_cents', 'BIGINT', 'amount'],
    ['amount_paid_cents', 'BIGINT', 'amount'],
    ['balance_cents', 'BIGINT', 'amount'],
    [
      'voided_at',
      'TIMESTAMP',
      'a void after the as-of date leaves it live then',
      instant('voided_at'),
    ],
  ]),
  table('payments', true, [
    ['account_id', 'UUID', 'school via account'],
    ['method', 'VARCHAR', 'card/ach/esa/check/cash (reference stays behind)'],
    ['status', 'VARCHAR', 'only succeeded payments count'],
    ['amount_cents', 'BIGINT', 'amount'],
    ['unapplied_cents', 'BIGINT', 'amount'],
    ['received_at', 'TIMESTAMP', 'collected month (instant, UTC)', instant('received_at')],
    ['esa_disbursement_id', 'UUID', 'ESA funding link'],
  ]),
  table('payment_allocations', true, [
    ['payment_id', 'UUID', 'which payment'],
    ['invoice_id', 'UUID', 'which invoice'],
    ['amount_cents', 'BIGINT', 'collected amount'],
  ]),
  table('esa_programs', true, [
    ['state', 'VARCHAR', 'two-letter state'],
    ['award_amount_cents', 'BIGINT', 'amount'],
  ]),
  table('esa_applications', true, [
    ['student_id', 'UUID', 'pseudonymous key; school fallback'],
    ['program_id', 'UUID', 'by programme'],
    ['session_id', 'UUID', 'school year applied for'],
    ['school_id', 'UUID', 'by school'],
    ['status', 'VARCHAR', 'categorical (decision note stays behind)'],
    ['amount_requested_cents', 'BIGINT', 'amount'],
    ['amount_awarded_cents', 'BIGINT', 'amount'],
    ['submitted_at', 'TIMESTAMP', 'instant (UTC)', instant('submitted_at')],
    ['decided_at', 'TIMESTAMP', 'instant (UTC)', instant('decided_at')],
    ['created_at', 'TIMESTAMP', 'date of a draft (instant, UTC)', instant('created_at')],
  ]),
  table('esa_disbursements', true, [
    ['application_id', 'UUID', 'which application'],
    ['amount_cents', 'BIGINT', 'amount'],
    ['scheduled_on', 'DATE', 'date'],
    ['disbursed_on', 'DATE', 'date'],
    ['status', 'VARCHAR', 'only disbursed counts (reference stays behind)'],
  ]),
];

export type WarehouseTableName = (typeof WAREHOUSE_TABLES)[number]['name'];

export function tableByName(name: string): WarehouseTable {
  const t = WAREHOUSE_TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`unknown warehouse table ${name}`);
  return t;
}

/**
 * Row ids are random UUIDs: DuckDB's bit-packing saves nothing on them but costs ~5× the
 * time to read them back, and every incremental merge reads the id column of each changed
 * table (a 6 M-row table: ~180 ms bit-packed, ~20 ms stored plain). Stored plain.
 */
const RANDOM_KEY = ' USING COMPRESSION uncompressed';

/** DuckDB DDL column list of a table. */
export function ddlColumns(t: WarehouseTable): string {
  return t.columns
    .map((c) => `"${c.name}" ${c.type}${c.name === 'id' && c.type === 'UUID' ? RANDOM_KEY : ''}`)
    .join(', ');
}

/** `read_csv` `columns={…}` argument of a table (plus extra columns, e.g. the delete flag). */
export function csvColumns(
  t: WarehouseTable,
  extra: readonly { name: string; type: DuckType }[] = [],
): string {
  return `{${[...t.columns, ...extra].map((c) => `'${c.name}': '${c.type}'`).join(', ')}}`;
}
