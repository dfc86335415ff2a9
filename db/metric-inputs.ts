/**
 * The tenant tables whose rows feed the metrics warehouse. A committed transaction that
 * wrote any of them (insert, update, soft or hard delete) makes the tenant's figures stale,
 * so the API enqueues a refresh after it. The warehouse catalog (`analytics/tables.ts`)
 * extracts exactly these tables; a test keeps the two lists equal.
 */
export const METRIC_INPUT_TABLES = [
  'org_units',
  'academic_sessions',
  'calendar_days',
  'students',
  'school_enrollments',
  'courses',
  'classes',
  'class_enrollments',
  'assignments',
  'scores',
  'attendance_records',
  'funnel_stages',
  'leads',
  'lead_stage_history',
  'lead_touchpoints',
  'grading_scales',
  'billing_accounts',
  'invoices',
  'payments',
  'payment_allocations',
  'esa_programs',
  'esa_applications',
  'esa_disbursements',
] as const;

export type MetricInputTable = (typeof METRIC_INPUT_TABLES)[number];

const xid = 'pg_current_xact_id_if_assigned()';

/**
 * One statement, run last in a tenant transaction, that answers whether the transaction
 * wrote a metric input. It reads the stamps the change-tracking triggers already leave
 * (see db/sql/tenant-guards.sql): every inserted or updated row carries its writer's
 * `changed_xid`, every hard delete leaves a tombstone with it. A transaction that wrote
 * nothing has no transaction id, so a read-only request costs no index probe at all; a
 * write costs one probe of each table's `(tenant_id, changed_xid)` index. Rows a rolled-back
 * savepoint wrote are invisible, so they count for nothing, as they should.
 */
export const METRIC_INPUTS_WRITTEN_SQL = `select case when ${xid} is null then false else (${[
  ...METRIC_INPUT_TABLES.map((t) => `exists (select 1 from ${t} where changed_xid = ${xid})`),
  `exists (select 1 from row_tombstones where changed_xid = ${xid} and table_name in (${METRIC_INPUT_TABLES.map(
    (t) => `'${t}'`,
  ).join(', ')}))`,
].join(' or ')}) end as written`;
