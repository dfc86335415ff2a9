/**
 * The refresh bookkeeping in the warehouse file: `warehouse_state` (watermark, time zone, last
 * run and as-of date) and the run log `refresh_runs`.
 */
import { lit, type SqlRunner } from './sql.js';

export type RefreshMode = 'full' | 'incremental';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

/** Rows a run moved for one table. */
export interface TableCounts {
  /** Rows read from the branch (in incremental mode: changed rows, soft-deleted ones included). */
  extracted: number;
  /** Rows removed from the warehouse: soft-deleted or tombstoned (always 0 in full mode). */
  removed: number;
  /** Rows in the warehouse table after the run. */
  total: number;
}

export interface WarehouseState {
  schemaFingerprint: string;
  /** `pg_current_snapshot()` of the last successful extraction; null before the first. */
  watermark: string | null;
  /** Time zone the timestamps were converted with; a change forces a full rebuild. */
  timezone: string | null;
  lastRunId: string | null;
  lastAsOf: string | null;
}

export interface RefreshRunRow {
  runId: string;
  requestedMode: RefreshMode;
  mode: RefreshMode;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  asOf: string | null;
  rowsPerTable: Record<string, TableCounts> | null;
  watermarkBefore: string | null;
  watermarkAfter: string | null;
  error: string | null;
}

/** The watermark and what the last successful run left. */
export async function warehouseState(db: SqlRunner): Promise<WarehouseState> {
  const [s] = await db.rows<{
    schema_fingerprint: string;
    watermark: string | null;
    timezone: string | null;
    last_run_id: string | null;
    last_as_of: string | null;
  }>(`SELECT schema_fingerprint, watermark, timezone, last_run_id::VARCHAR AS last_run_id,
             last_as_of::VARCHAR AS last_as_of FROM warehouse_state`);
  if (!s) throw new Error('warehouse has no state row');
  return {
    schemaFingerprint: s.schema_fingerprint,
    watermark: s.watermark,
    timezone: s.timezone,
    lastRunId: s.last_run_id,
    lastAsOf: s.last_as_of,
  };
}

/** The run log, newest first. */
export async function refreshRuns(db: SqlRunner, limit = 50): Promise<RefreshRunRow[]> {
  const rows = await db.rows<Record<string, string | null>>(
    `SELECT run_id::VARCHAR AS run_id, requested_mode, mode, status,
            strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS started_at,
            strftime(finished_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS finished_at,
            as_of::VARCHAR AS as_of, rows_per_table::VARCHAR AS rows_per_table,
            watermark_before, watermark_after, error
       FROM refresh_runs ORDER BY started_at DESC, run_id LIMIT ${Math.max(1, Math.floor(limit))}`,
  );
  return rows.map((r) => ({
    runId: r.run_id!,
    requestedMode: r.requested_mode as RefreshMode,
    mode: r.mode as RefreshMode,
    status: r.status as RunStatus,
    startedAt: r.started_at!,
    finishedAt: r.finished_at ?? null,
    asOf: r.as_of ?? null,
    rowsPerTable: r.rows_per_table
      ? (JSON.parse(r.rows_per_table) as Record<string, TableCounts>)
      : null,
    watermarkBefore: r.watermark_before ?? null,
    watermarkAfter: r.watermark_after ?? null,
    error: r.error ?? null,
  }));
}

/**
 * Records a run as started (committed on its own, so a run killed mid-refresh stays
 * visible). Runs still marked running were killed: only one refresh per tenant runs.
 */
export async function startRun(
  db: SqlRunner,
  run: {
    runId: string;
    requestedMode: RefreshMode;
    mode: RefreshMode;
    watermarkBefore: string | null;
  },
): Promise<void> {
  await db.run(
    `UPDATE refresh_runs SET status = 'abandoned', finished_at = now(),
            error = coalesce(error, 'the refresh did not finish (process stopped)')
      WHERE status = 'running'`,
  );
  await db.run(
    `INSERT INTO refresh_runs (run_id, requested_mode, mode, status, started_at, watermark_before)
     VALUES (${lit(run.runId)}, ${lit(run.requestedMode)}, ${lit(run.mode)}, 'running', now(),
             ${run.watermarkBefore === null ? 'NULL' : lit(run.watermarkBefore)})`,
  );
}

/** Marks a run failed, after its transaction rolled back. */
export async function failRun(
  db: SqlRunner,
  runId: string,
  error: string,
  asOf: string | null,
): Promise<void> {
  await db.run(
    `UPDATE refresh_runs SET status = 'failed', finished_at = now(), error = ${lit(error.slice(0, 4000))},
            as_of = ${asOf ? `DATE ${lit(asOf)}` : 'NULL'}
      WHERE run_id = ${lit(runId)}`,
  );
}

/** Stores the new watermark and completes the run row, inside the refresh transaction. */
export async function completeRun(
  tx: SqlRunner,
  run: {
    runId: string;
    asOf: string;
    timezone: string;
    rowsPerTable: Record<string, TableCounts>;
    watermarkAfter: string;
  },
): Promise<void> {
  await tx.run(
    `UPDATE warehouse_state SET watermark = ${lit(run.watermarkAfter)}, timezone = ${lit(run.timezone)},
            last_run_id = ${lit(run.runId)}, last_as_of = DATE ${lit(run.asOf)}`,
  );
  await tx.run(
    `UPDATE refresh_runs SET status = 'succeeded', finished_at = now(), as_of = DATE ${lit(run.asOf)},
            rows_per_table = ${lit(JSON.stringify(run.rowsPerTable))}, watermark_after = ${lit(run.watermarkAfter)}
      WHERE run_id = ${lit(run.runId)}`,
  );
}
