/**
 * Every metric (docs/metrics.md), for the tenant and each school, for each period, as of a
 * date. Runs on any SqlRunner: inside the refresh transaction (so the figures match the data
 * committed with them) or on an open warehouse (to recompute for another date).
 */
import { createHash } from 'node:crypto';
import type { SqlRunner } from '../warehouse.js';
import { lit } from '../warehouse.js';
import {
  ATTENDANCE_PATCHABLE,
  attendanceBase,
  attendanceSnapshots,
  patchAttendanceBase,
} from './attendance.js';
import { MetricContext, type BaseMode } from './context.js';
import { esaSnapshots } from './esa.js';
import { FINANCE_PATCHABLE, financeBase, financeSnapshots, patchFinanceBase } from './finance.js';
import { GRADES_PATCHABLE, gradesBase, gradesSnapshots, patchGradesBase } from './grades.js';
import {
  FUNNEL_PATCHABLE,
  funnelBase,
  leadFunnelSnapshots,
  patchFunnelBase,
} from './lead-funnel.js';
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
  attendance: ['calendar_days', 'school_enrollments', 'attendance_records', 'students'],
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

const COMPUTE: {
  [M in MetricName]: (ctx: MetricContext, mode: BaseMode) => Promise<MetricSnapshot<M>[]>;
} = {
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

/**
 * Metrics whose large intermediate aggregates are kept in the warehouse between runs
 * (`agg_*` tables) and patched from the changed rows of an incremental run. Changes to
 * `rebuildOn` tables (rare: calendars, class definitions) rebuild them instead.
 */
const KEPT_BASES = {
  lead_funnel: {
    patchable: FUNNEL_PATCHABLE as readonly string[],
    // Stages index every sum; the scopes and windows place every lead.
    rebuildOn: ['funnel_stages', 'org_units', 'academic_sessions'],
    build: funnelBase,
    patch: patchFunnelBase,
  },
  attendance: {
    patchable: ATTENDANCE_PATCHABLE as readonly string[],
    // `att_student_school` is per scope and period: a changed org tree or calendar rebuilds it.
    rebuildOn: ['calendar_days', 'org_units', 'academic_sessions'],
    build: attendanceBase,
    patch: patchAttendanceBase,
  },
  grades: {
    patchable: GRADES_PATCHABLE as readonly string[],
    // The figure sums are per scope and period, with letters: a changed org tree, calendar
    // or grading scale rebuilds them.
    rebuildOn: ['classes', 'courses', 'org_units', 'academic_sessions', 'grading_scales'],
    build: gradesBase,
    patch: patchGradesBase,
  },
  finance: {
    patchable: FINANCE_PATCHABLE as readonly string[],
    // Sums are per scope and period: a changed org tree or calendar rebuilds them.
    rebuildOn: ['org_units', 'academic_sessions'],
    build: financeBase,
    patch: patchFinanceBase,
  },
} as const;
type KeptMetric = keyof typeof KEPT_BASES;
/** Bump when a kept table changes shape: the next run rebuilds them. */
const KEPT_VERSION = 15;

/** Tables whose changed rows an incremental run must keep for `computeMetrics` (`keepDeltas`). */
export const DELTA_TABLES: readonly string[] = Object.values(KEPT_BASES).flatMap(
  (b) => b.patchable,
);

/** Keeping the base aggregates in the warehouse (inside the refresh transaction). */
export interface KeptAggregates {
  /** The run computing now, and the warehouse's last successful run (null: none). */
  runId: string;
  previousRunId: string | null;
  /**
   * Incremental run: the tables that changed; those in `DELTA_TABLES` have their changed rows
   * in `temp._delta_<table>` (`WarehouseWriter.keepDeltas`). Null: rebuild everything.
   */
  changed: ReadonlySet<string> | null;
}

/** How each kept base was brought up to date. */
export type BaseUpkeep = Record<KeptMetric, 'rebuilt' | 'patched'>;

async function upkeepBases(ctx: MetricContext, kept: KeptAggregates): Promise<BaseUpkeep> {
  await ctx.runner.run(
    `CREATE TABLE IF NOT EXISTS metric_aggregates (metric VARCHAR NOT NULL, signature VARCHAR NOT NULL, run_id UUID NOT NULL)`,
  );
  // The kept tables depend on their own shape, the as-of date and the window boundaries.
  const [sig] = await ctx.rows<{ s: string }>(
    `SELECT ${lit(`v${KEPT_VERSION}|${ctx.asOf}`)} || '|' || coalesce(string_agg(b::VARCHAR, ',' ORDER BY b), '') AS s FROM _m_bounds`,
  );
  const signature = sig!.s;
  const stored = new Map(
    (
      await ctx.rows<{ metric: string; signature: string; run_id: string }>(
        `SELECT metric, signature, run_id::VARCHAR AS run_id FROM metric_aggregates`,
      )
    ).map((r) => [r.metric, r]),
  );
  const upkeep = {} as BaseUpkeep;
  for (const [metric, base] of Object.entries(KEPT_BASES) as [
    KeptMetric,
    (typeof KEPT_BASES)[KeptMetric],
  ][]) {
    const prev = stored.get(metric);
    const changed = kept.changed;
    const patchable =
      changed !== null &&
      prev?.signature === signature &&
      prev.run_id === kept.previousRunId &&
      !base.rebuildOn.some((t) => changed.has(t));
    if (patchable) await base.patch(ctx, changed);
    else await base.build(ctx, 'rebuild');
    upkeep[metric] = patchable ? 'patched' : 'rebuilt';
  }
  await ctx.runner.run(`DELETE FROM metric_aggregates`);
  await ctx.runner.run(
    `INSERT INTO metric_aggregates VALUES ${Object.keys(KEPT_BASES)
      .map((m) => `(${lit(m)}, ${lit(signature)}, ${lit(kept.runId)}::UUID)`)
      .join(', ')}`,
  );
  return upkeep;
}

/**
 * Computes metric snapshots as of `asOf` (`YYYY-MM-DD`): every metric, or `only` these.
 * With `kept`, the large intermediate aggregates are kept in the warehouse and, on an
 * incremental run, patched for the changed rows only; the figures are the same either way.
 */
export async function computeMetrics(
  runner: SqlRunner,
  asOf: string,
  only: readonly MetricName[] = METRIC_NAMES,
  kept?: KeptAggregates,
  timezone = 'UTC',
): Promise<AnySnapshot[]> {
  return (await computeMetricsDetailed(runner, asOf, only, kept, timezone)).snapshots;
}

/** `computeMetrics`, also telling how the kept aggregates were brought up to date. */
export async function computeMetricsDetailed(
  runner: SqlRunner,
  asOf: string,
  only: readonly MetricName[] = METRIC_NAMES,
  kept?: KeptAggregates,
  /** The tenant's IANA zone (dates of facts with no school's zone). */
  timezone = 'UTC',
): Promise<{
  snapshots: AnySnapshot[];
  upkeep: BaseUpkeep | null;
  /** Milliseconds per step: `prepare`, `aggregates` (kept tables), then each metric. */
  steps: Record<string, number>;
}> {
  const ctx = new MetricContext(runner, asOf, timezone);
  const steps: Record<string, number> = {};
  let mark = performance.now();
  const lap = (step: string) => {
    const now = performance.now();
    steps[step] = Math.round(now - mark);
    mark = now;
  };
  try {
    await ctx.prepare();
    lap('prepare');
    const upkeep = kept ? await upkeepBases(ctx, kept) : null;
    lap('aggregates');
    const out: AnySnapshot[] = [];
    for (const metric of METRIC_NAMES) {
      if (!only.includes(metric)) continue;
      const mode: BaseMode = !upkeep || !(metric in upkeep) ? 'temp' : 'patch';
      out.push(...((await COMPUTE[metric](ctx, mode)) as AnySnapshot[]));
      lap(metric);
    }
    return { snapshots: sortSnapshots(out), upkeep, steps };
  } finally {
    await ctx.dispose();
  }
}

/** Key of a snapshot: `metric|scope_kind|scope_id|period` (scope_id empty for the tenant). */
export const snapshotKey = (s: Pick<AnySnapshot, 'metric' | 'scopeKind' | 'scopeId' | 'period'>) =>
  `${s.metric}|${s.scopeKind}|${s.scopeId ?? ''}|${s.period}`;

/** Hash of a snapshot's as-of date and payload JSON text (sha1, hex). */
export const payloadHash = (json: string) => createHash('sha1').update(json).digest('hex');

/**
 * Which run first produced each snapshot's payload, by `snapshotKey`: a payload equal to
 * the one stored by an earlier run keeps that run's id. Publishing compares it with
 * `metric_snapshots.refresh_run_id` to skip rows whose published payload is already this one.
 */
export type PayloadRuns = Record<string, string>;

/** What `storeSnapshots` wrote: the run of each payload, and the JSON text of the new ones. */
export interface StoredPayloads {
  runs: PayloadRuns;
  /** By `snapshotKey`, the JSON text of each payload this run rewrote (published as is). */
  json: Map<string, string>;
}

/** A snapshot as kept in the warehouse: its payload's hash and the run that produced it. */
interface StoredVersion {
  hash: string | null;
  runId: string;
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

async function storedVersions(runner: SqlRunner): Promise<Map<string, StoredVersion>> {
  const rows = await runner.rows<{
    metric: MetricName;
    scope_kind: 'tenant' | 'school';
    scope_id: string | null;
    period: AnySnapshot['period'];
    hash: string | null;
    run_id: string;
  }>(
    `SELECT metric, scope_kind, scope_id::VARCHAR AS scope_id, period, hash,
            run_id::VARCHAR AS run_id FROM metric_snapshots`,
  );
  return new Map(
    rows.map((r) => [
      snapshotKey({
        metric: r.metric,
        scopeKind: r.scope_kind,
        scopeId: r.scope_id,
        period: r.period,
      }),
      { hash: r.hash, runId: r.run_id },
    ]),
  );
}

/**
 * Replaces the warehouse's `metric_snapshots` with `snapshots` (inside the refresh
 * transaction), rewriting only the rows whose payload changed. `carried`: keys of snapshots
 * taken unchanged from the stored rows (`storedSnapshots`), neither hashed nor rewritten.
 * Returns, by key, the run that first produced each payload, and the JSON text of those it
 * rewrote.
 */
export async function storeSnapshots(
  runner: SqlRunner,
  snapshots: readonly AnySnapshot[],
  runId: string,
  carried: ReadonlySet<string> = new Set(),
): Promise<StoredPayloads> {
  const previous = await storedVersions(runner);
  const runs: PayloadRuns = {};
  const texts = new Map<string, string>();
  const keep: string[] = [];
  const write: { s: AnySnapshot; json: string; hash: string }[] = [];
  for (const s of snapshots) {
    const key = snapshotKey(s);
    const prev = previous.get(key);
    if (prev && carried.has(key)) {
      runs[key] = prev.runId;
      keep.push(key);
      continue;
    }
    const json = JSON.stringify(s.payload);
    const hash = payloadHash(`${s.asOf}\n${json}`);
    if (prev && prev.hash === hash) {
      runs[key] = prev.runId;
      keep.push(key);
    } else {
      runs[key] = runId;
      texts.set(key, json);
      write.push({ s, json, hash });
    }
  }
  const keyExpr = `metric || '|' || scope_kind || '|' || coalesce(scope_id::VARCHAR, '') || '|' || period`;
  await runner.run(
    keep.length
      ? `DELETE FROM metric_snapshots WHERE ${keyExpr} NOT IN (${keep.map((k) => lit(k)).join(', ')})`
      : 'DELETE FROM metric_snapshots',
  );
  // Batches keep statements small; the JSON text is bound as a parameter, never parsed here.
  for (let i = 0; i < write.length; i += 50) {
    const batch = write.slice(i, i + 50);
    const params: (string | null)[] = [];
    const values = batch.map(({ s, json, hash }) => {
      const at = params.length;
      params.push(s.metric, s.scopeKind, s.scopeId, s.period, s.asOf, json, runId, hash);
      const $ = (k: number) => `$${at + k}`;
      return `(${$(1)}, ${$(2)}, ${$(3)}::UUID, ${$(4)}, ${$(5)}::DATE, ${$(6)}, ${$(7)}::UUID, ${$(8)})`;
    });
    await runner.run(
      `INSERT INTO metric_snapshots (metric, scope_kind, scope_id, period, as_of, payload, run_id, hash)
       VALUES ${values.join(',\n')}`,
      params,
    );
  }
  return { runs, json: texts };
}
