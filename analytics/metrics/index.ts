/**
 * Every §7 metric, for the tenant and each school, for each period, as of a date. Runs on
 * any SqlRunner: inside the refresh transaction (so the figures match the data committed
 * with them) or on an open warehouse (to recompute for another date).
 */
import type { SqlRunner } from '../warehouse.js';
import { lit } from '../warehouse.js';
import { attendanceSnapshots } from './attendance.js';
import { MetricContext } from './context.js';
import { esaSnapshots } from './esa.js';
import { financeSnapshots } from './finance.js';
import { gradesSnapshots } from './grades.js';
import { leadFunnelSnapshots } from './lead-funnel.js';
import { METRIC_NAMES, type AnySnapshot, type MetricName, type MetricSnapshot } from './types.js';

export * from './types.js';
export { parseAsOf } from './context.js';

/**
 * The warehouse tables each metric reads. Every metric also depends on the scopes and
 * windows (org units, academic sessions). A metric none of whose inputs changed since the
 * previous run, for the same as-of date, has the same figures: an incremental refresh
 * reuses them instead of recomputing.
 */
export const METRIC_INPUTS: Record<MetricName, readonly string[]> = {
  lead_funnel: ['funnel_stages', 'leads', 'lead_stage_history'],
  attendance: ['calendar_days', 'school_enrollments', 'attendance_records'],
  grades: ['grading_scales', 'courses', 'classes', 'class_enrollments', 'assignments', 'scores'],
  esa: ['esa_programs', 'esa_applications', 'esa_disbursements', 'students'],
  finance: ['billing_accounts', 'invoices', 'payments', 'payment_allocations'],
};
const SCOPE_INPUTS = ['org_units', 'academic_sessions'];

/** The metrics to recompute when `changedTables` changed. */
export function metricsAffectedBy(changedTables: readonly string[]): MetricName[] {
  const changed = new Set(changedTables);
  if (SCOPE_INPUTS.some((t) => changed.has(t))) return [...METRIC_NAMES];
  return METRIC_NAMES.filter((m) => METRIC_INPUTS[m].some((t) => changed.has(t)));
}

const COMPUTE: { [M in MetricName]: (ctx: MetricContext) => Promise<MetricSnapshot<M>[]> } = {
  lead_funnel: leadFunnelSnapshots,
  attendance: attendanceSnapshots,
  grades: gradesSnapshots,
  esa: esaSnapshots,
  finance: financeSnapshots,
};

/** Canonical order: metric, then the tenant before schools (by id), then period. */
export function sortSnapshots(snapshots: AnySnapshot[]): AnySnapshot[] {
  const rank = (s: AnySnapshot) => METRIC_NAMES.indexOf(s.metric);
  return snapshots.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.scopeKind === b.scopeKind ? 0 : a.scopeKind === 'tenant' ? -1 : 1) ||
      (a.scopeId ?? '').localeCompare(b.scopeId ?? '') ||
      a.period.localeCompare(b.period),
  );
}

/** Computes metric snapshots as of `asOf` (`YYYY-MM-DD`): every metric, or `only` these. */
export async function computeMetrics(
  runner: SqlRunner,
  asOf: string,
  only: readonly MetricName[] = METRIC_NAMES,
): Promise<AnySnapshot[]> {
  const ctx = new MetricContext(runner, asOf);
  try {
    await ctx.prepare();
    const out: AnySnapshot[] = [];
    for (const metric of METRIC_NAMES) {
      if (only.includes(metric)) out.push(...((await COMPUTE[metric](ctx)) as AnySnapshot[]));
    }
    return sortSnapshots(out);
  } finally {
    await ctx.dispose();
  }
}

/** The snapshots stored by the last successful refresh (for the given metrics). */
export async function storedSnapshots(
  runner: SqlRunner,
  metrics: readonly MetricName[] = METRIC_NAMES,
): Promise<AnySnapshot[]> {
  if (metrics.length === 0) return [];
  const rows = await runner.rows<{
    metric: MetricName;
    scope_kind: 'tenant' | 'school';
    scope_id: string | null;
    period: AnySnapshot['period'];
    as_of: string;
    payload: string;
  }>(
    `SELECT metric, scope_kind, scope_id::VARCHAR AS scope_id, period, as_of::VARCHAR AS as_of,
            payload::VARCHAR AS payload
       FROM metric_snapshots WHERE metric IN (${metrics.map((m) => lit(m)).join(', ')})`,
  );
  return sortSnapshots(
    rows.map(
      (r) =>
        ({
          metric: r.metric,
          scopeKind: r.scope_kind,
          scopeId: r.scope_id,
          period: r.period,
          asOf: r.as_of,
          payload: JSON.parse(r.payload),
        }) as AnySnapshot,
    ),
  );
}

/** Replaces the warehouse's `metric_snapshots` with `snapshots` (inside the refresh transaction). */
export async function storeSnapshots(
  runner: SqlRunner,
  snapshots: readonly AnySnapshot[],
  runId: string,
): Promise<void> {
  await runner.run('DELETE FROM metric_snapshots');
  // Batches keep statements small; JSON text is passed as a literal and parsed by DuckDB.
  for (let i = 0; i < snapshots.length; i += 50) {
    const values = snapshots
      .slice(i, i + 50)
      .map(
        (s) =>
          `(${lit(s.metric)}, ${lit(s.scopeKind)}, ${s.scopeId ? `${lit(s.scopeId)}::UUID` : 'NULL'}, ` +
          `${lit(s.period)}, DATE ${lit(s.asOf)}, ${lit(JSON.stringify(s.payload))}::JSON, ${lit(runId)}::UUID)`,
      )
      .join(',\n');
    if (values) await runner.run(`INSERT INTO metric_snapshots VALUES ${values}`);
  }
}
