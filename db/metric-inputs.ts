/**
 * The tenant tables whose rows feed the metrics warehouse. A committed transaction that
 * wrote any of them (insert, update, soft or hard delete) makes the tenant's figures stale,
 * so the API enqueues a refresh after it. The warehouse catalog (`analytics/tables.ts`)
 * extracts exactly these tables; a test keeps the two lists equal. Ordered by how often the
 * API writes them, busiest first: the check below stops at the first table written.
 */
export const METRIC_INPUT_TABLES = [
  'leads',
  'lead_touchpoints',
  'lead_stage_history',
  'attendance_records',
  'scores',
  'payments',
  'payment_allocations',
  'invoices',
  'class_enrollments',
  'school_enrollments',
  'assignments',
  'students',
  'esa_applications',
  'esa_disbursements',
  'billing_accounts',
  'calendar_days',
  'classes',
  'courses',
  'academic_sessions',
  'org_units',
  'funnel_stages',
  'grading_scales',
  'esa_programs',
] as const;

export type MetricInputTable = (typeof METRIC_INPUT_TABLES)[number];

const xid = 'pg_current_xact_id_if_assigned()';

/**
 * `metric_inputs_written()`: whether the current transaction wrote a metric input. It reads
 * the stamps the change-tracking triggers already leave (db/sql/tenant-guards.sql): every
 * inserted or updated row carries its writer's `changed_xid`, every hard delete leaves a
 * tombstone with it. A transaction that wrote nothing has no transaction id, so a read-only
 * request costs no probe at all; a write costs a probe of each table's `(tenant_id,
 * changed_xid)` index up to the first table written. Rows a rolled-back savepoint wrote are
 * invisible and count for nothing. A plpgsql function, so each connection plans the probes
 * once; it runs as the caller, under row-level security. Installed by every migration run,
 * after the guards (db/migrate.ts).
 */
export const METRIC_INPUTS_FUNCTION_SQL = `
CREATE OR REPLACE FUNCTION metric_inputs_written() RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF ${xid} IS NULL THEN
    RETURN false;
  END IF;
  RETURN ${[
    ...METRIC_INPUT_TABLES.map((t) => `EXISTS (SELECT 1 FROM ${t} WHERE changed_xid = ${xid})`),
    `EXISTS (SELECT 1 FROM row_tombstones WHERE changed_xid = ${xid} AND table_name IN (${METRIC_INPUT_TABLES.map(
      (t) => `'${t}'`,
    ).join(', ')}))`,
  ].join(' OR ')};
END;
$fn$`;

/** The statement a tenant transaction ends with to ask (see metric_inputs_written). */
export const METRIC_INPUTS_WRITTEN_SQL = 'select metric_inputs_written() as written';
