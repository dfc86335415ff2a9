/**
 * A tenant's warehouse refresh: extract → warehouse → metrics, committed as ONE DuckDB
 * transaction, returning the snapshots to publish.
 *
 * `startRefresh` does the work and leaves the transaction open: the caller may start on the
 * computed snapshots (the worker renders dashboard pages) while `commit()` writes, then
 * publishes and `close()`s, which detaches — checkpoints — the file. `refreshTenant` is the
 * three in a row, for callers that only want the figures:
 *
 * ```ts
 * const refresh = await startRefresh({ tenantId, branchUrl, warehouseDir, mode: 'incremental' });
 * try {
 *   const result = await refresh.commit();
 *   await publishSnapshots(db, { tenantId, runId: result.runId, snapshots: result.snapshots,
 *                                payloadRuns: result.payloadRuns, dataAsOf: result.extractedAt });
 * } finally {
 *   await refresh.close();
 * }
 * ```
 *
 * A failure anywhere, or a close before the commit, rolls the warehouse back to exactly its
 * previous state and records the error in `refresh_runs`; a process killed mid-refresh
 * leaves its run `running` (marked `abandoned` by the next run) and the previous state.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { extractInto } from './extract.js';
import {
  DELTA_TABLES,
  METRIC_NAMES,
  computeMetricsDetailed,
  type BaseUpkeep,
  metricsAffectedBy,
  parseAsOf,
  snapshotKey,
  sortSnapshots,
  storeSnapshots,
  type PayloadRuns,
  storedSnapshots,
  type AnySnapshot,
  type MetricName,
} from './metrics/index.js';
import type { WarehouseTable } from './tables.js';
import { openWarehouse, type OpenWarehouseOptions, type Warehouse } from './warehouse.js';
import { warehouseDetached } from './warehouse/attach.js';
import {
  completeRun,
  failRun,
  startRun,
  warehouseState,
  type RefreshMode,
  type TableCounts,
  type WarehouseState,
} from './warehouse/run-log.js';
import type { WarehouseWriter } from './warehouse/writer.js';
import { isUuid } from '../db/ids.js';

/** Input that can never succeed (the worker turns it into BullMQ's UnrecoverableError). */
export class RefreshInputError extends Error {
  override name = 'RefreshInputError';
}

/** Structured progress events; ids and counts only, never personal data. */
export type RefreshLogEvent =
  | {
      event: 'refresh.start';
      runId: string;
      tenantId: string;
      requestedMode: RefreshMode;
      mode: RefreshMode;
    }
  | { event: 'refresh.table'; runId: string; table: string; counts: TableCounts }
  | { event: 'refresh.done'; runId: string; durationMs: number; snapshots: number }
  | { event: 'refresh.failed'; runId: string; durationMs: number; error: string };

export interface RefreshOptions {
  tenantId: string;
  /** App-role connection string of the tenant's branch (never a superuser). */
  branchUrl: string;
  /** Directory of the warehouse files (`<dir>/<tenantId>.duckdb`). */
  warehouseDir: string;
  /** `incremental` falls back to `full` when the warehouse has no watermark yet. */
  mode: RefreshMode;
  /** `YYYY-MM-DD`; default: today in `timezone`. */
  asOf?: string;
  /** The tenant's IANA time zone (control plane `tenants.timezone`); default UTC. */
  timezone?: string;
  runId?: string;
  log?: (event: RefreshLogEvent) => void;
  /** DuckDB settings (memory limit, threads, lock wait). */
  duckdb?: Pick<OpenWarehouseOptions, 'memoryLimit' | 'threads' | 'lockTimeoutMs'>;
  /** Extraction chunk size in bytes (default 64 MiB). */
  chunkBytes?: number;
  /** Tests only: called after each table is loaded, inside the transaction. */
  afterTable?: (table: string, counts: TableCounts) => void | Promise<void>;
  /** Tests only: extract a subset of the catalog. */
  tables?: readonly WarehouseTable[];
  /** Recompute every metric even when inputs did not change (tests, diagnostics). */
  recomputeAll?: boolean;
}

export interface RefreshResult {
  runId: string;
  tenantId: string;
  requestedMode: RefreshMode;
  /** What ran: `full` when requested, on the first run, or after a time-zone change. */
  mode: RefreshMode;
  asOf: string;
  /** The extraction transaction's time (ISO-8601 UTC): the data is as of this instant. */
  extractedAt: string;
  rowsPerTable: Record<string, TableCounts>;
  watermarkBefore: string | null;
  watermarkAfter: string;
  snapshots: AnySnapshot[];
  /**
   * By `snapshotKey`, the run that first produced each payload (this run when it changed);
   * `publishSnapshots` skips rows already published from that run.
   */
  payloadRuns: PayloadRuns;
  /** By `snapshotKey`, the JSON text of the payloads this run changed (published as is). */
  payloadJson: Map<string, string>;
  /** Snapshots whose payload this run changed (or produced for the first time). */
  changedSnapshots: number;
  durationMs: number;
  /** Where the time went: extraction (PostgreSQL → DuckDB), metrics, commit. */
  timings: {
    extractMs: number;
    metricsMs: number;
    commitMs: number;
    /** The metrics step in detail: `computeMetricsDetailed` steps, `carry`, `store`. */
    metricSteps: Record<string, number>;
  };
  /** Metrics computed by this run; the others' figures were carried over unchanged. */
  recomputed: MetricName[];
  /**
   * How the kept intermediate aggregates (attendance, grades) were brought up to date:
   * `patched` from the changed rows only, or `rebuilt` (full run, new as-of date or windows).
   */
  aggregates: BaseUpkeep;
}

function validate(options: RefreshOptions): void {
  if (!isUuid(options.tenantId)) throw new RefreshInputError('tenantId must be a UUID');
  if (options.mode !== 'full' && options.mode !== 'incremental') {
    throw new RefreshInputError(`mode must be full or incremental`);
  }
  if (options.asOf !== undefined) {
    try {
      parseAsOf(options.asOf);
    } catch (err) {
      throw new RefreshInputError((err as Error).message);
    }
  }
  if (options.timezone !== undefined && !/^[A-Za-z0-9_+\-/]{1,64}$/.test(options.timezone)) {
    throw new RefreshInputError('timezone must be an IANA zone name');
  }
}

/** Removes scratch directories a killed run of this tenant left behind. */
async function clearScratch(scratchRoot: string, tenantId: string): Promise<void> {
  const entries = await readdir(scratchRoot).catch(() => [] as string[]);
  for (const e of entries) {
    if (e.startsWith(`${tenantId}-`))
      await rm(join(scratchRoot, e), { recursive: true, force: true });
  }
}

/**
 * A refresh whose work is done and whose warehouse transaction is still open: `commit()` or
 * let `close()` roll it back, and `close()` it in any case.
 */
export interface PendingRefresh {
  readonly runId: string;
  /** Every snapshot of the run, as `commit()` will store them. */
  readonly snapshots: readonly AnySnapshot[];
  /** The snapshots whose payload this run changed (or produced for the first time). */
  readonly changed: readonly AnySnapshot[];
  /** The extraction transaction's time (ISO-8601 UTC): the data is as of this instant. */
  readonly extractedAt: string;
  /** Commits figures, watermark and run row together; a failure rolls back and is recorded. */
  commit(): Promise<RefreshResult>;
  /**
   * Rolls back a run not committed (recorded as failed), disconnects and, when this was the
   * file's last user in the process, waits while the file is checkpointed and detached.
   */
  close(): Promise<void>;
}

/** What the open transaction computed (`computeFigures`). */
interface Figures {
  extracted: Awaited<ReturnType<typeof extractInto>>;
  asOf: string;
  snapshots: AnySnapshot[];
  stored: Awaited<ReturnType<typeof storeSnapshots>>;
  recomputed: MetricName[];
  aggregates: BaseUpkeep;
  timings: RefreshResult['timings'];
}

/**
 * Extracts, computes and stores the figures of one tenant in a warehouse transaction that it
 * leaves open (see `PendingRefresh`). A failure before it returns is rolled back, recorded
 * and the warehouse closed.
 */
export async function startRefresh(options: RefreshOptions): Promise<PendingRefresh> {
  validate(options);
  const started = performance.now();
  const tenantId = options.tenantId.toLowerCase();
  const runId = options.runId ?? randomUUID();
  const timezone = options.timezone ?? 'UTC';
  const log = options.log ?? (() => undefined);

  const warehouse = await openWarehouse({
    dir: options.warehouseDir,
    tenantId,
    ...options.duckdb,
  });
  const close = async () => {
    await warehouse.close();
    await warehouseDetached(options.warehouseDir, tenantId);
  };
  let state: WarehouseState;
  let mode: RefreshMode;
  try {
    // Holding the file now, no other process refreshes this tenant: leftovers are stale.
    await clearScratch(join(resolve(options.warehouseDir), '.scratch'), tenantId);
    ({ state, mode } = await recordStart(warehouse, options, runId, timezone));
    log({ event: 'refresh.start', runId, tenantId, requestedMode: options.mode, mode });
  } catch (err) {
    await close();
    throw err;
  }

  let tx: WarehouseWriter | null = null;
  let asOf: string | null = options.asOf ?? null;
  let open = true;
  /** Rolls back, records the failure; once. */
  const fail = async (err: unknown) => {
    if (!open) return;
    open = false;
    await tx?.rollback();
    const message = (err as Error)?.message ?? String(err);
    await failRun(warehouse, runId, message, asOf).catch(() => undefined);
    log({
      event: 'refresh.failed',
      runId,
      durationMs: Math.round(performance.now() - started),
      error: message,
    });
  };

  let figures: Figures;
  try {
    tx = await warehouse.begin();
    figures = await computeFigures(tx, options, { tenantId, runId, timezone, mode, state, log });
    asOf = figures.asOf;
  } catch (err) {
    await fail(err);
    await close();
    throw err;
  }
  const writer = tx;
  const { extracted, snapshots, stored, timings } = figures;
  return {
    runId,
    snapshots,
    changed: snapshots.filter((s) => stored.json.has(snapshotKey(s))),
    extractedAt: extracted.extractedAt,
    async commit() {
      if (!open) throw new Error('the refresh is no longer open');
      const committing = performance.now();
      try {
        await completeRun(writer, {
          runId,
          asOf: figures.asOf,
          timezone,
          rowsPerTable: extracted.rowsPerTable,
          watermarkAfter: extracted.snapshot,
        });
        await writer.commit();
        open = false;
      } catch (err) {
        await fail(err);
        throw err;
      }
      // Replaced tables leave free blocks behind; a checkpoint returns them to the file.
      if (mode === 'full') await warehouse.checkpoint().catch(() => undefined);
      timings.commitMs = Math.round(performance.now() - committing);
      const durationMs = Math.round(performance.now() - started);
      log({ event: 'refresh.done', runId, durationMs, snapshots: snapshots.length });
      return {
        runId,
        tenantId,
        requestedMode: options.mode,
        mode,
        asOf: figures.asOf,
        extractedAt: extracted.extractedAt,
        rowsPerTable: extracted.rowsPerTable,
        watermarkBefore: state.watermark,
        watermarkAfter: extracted.snapshot,
        snapshots,
        payloadRuns: stored.runs,
        payloadJson: stored.json,
        changedSnapshots: stored.json.size,
        durationMs,
        timings,
        recomputed: figures.recomputed,
        aggregates: figures.aggregates,
      };
    },
    async close() {
      await fail(new Error('the refresh was closed before it committed'));
      await close();
    },
  };
}

/**
 * What runs: `full` when asked, on the first run, or after a time-zone change. The run is
 * recorded as started, committed on its own.
 */
async function recordStart(
  warehouse: Warehouse,
  options: RefreshOptions,
  runId: string,
  timezone: string,
): Promise<{ state: WarehouseState; mode: RefreshMode }> {
  const state = await warehouseState(warehouse);
  const mode: RefreshMode =
    options.mode === 'full' || !state.watermark || state.timezone !== timezone
      ? 'full'
      : 'incremental';
  await startRun(warehouse, {
    runId,
    requestedMode: options.mode,
    mode,
    watermarkBefore: state.watermark,
  });
  return { state, mode };
}

/** Extract → metrics → the snapshots stored, inside the refresh transaction. */
async function computeFigures(
  tx: WarehouseWriter,
  options: RefreshOptions,
  run: {
    tenantId: string;
    runId: string;
    timezone: string;
    mode: RefreshMode;
    state: WarehouseState;
    log: (event: RefreshLogEvent) => void;
  },
): Promise<Figures> {
  const { tenantId, runId, timezone, mode, state, log } = run;
  let mark = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = Math.round(now - mark);
    mark = now;
    return ms;
  };
  tx.keepDeltas(DELTA_TABLES);
  const extracted = await extractInto(tx, {
    tenantId,
    branchUrl: options.branchUrl,
    mode,
    since: mode === 'incremental' ? state.watermark : null,
    timezone,
    tmpDir: join(resolve(options.warehouseDir), '.scratch', `${tenantId}-${runId}`),
    chunkBytes: options.chunkBytes,
    tables: options.tables,
    afterTable: async (table, counts) => {
      log({ event: 'refresh.table', runId, table, counts });
      await options.afterTable?.(table, counts);
    },
  });
  const asOf = options.asOf ?? extracted.today;
  const extractMs = lap();
  // Same as-of date and an incremental run: metrics whose inputs did not change keep
  // the figures stored by the previous run (they would come out identical).
  const changed = Object.entries(extracted.rowsPerTable)
    .filter(([, c]) => c.extracted > 0 || c.removed > 0)
    .map(([table]) => table);
  const recomputed =
    mode === 'incremental' && state.lastAsOf === asOf && !options.recomputeAll
      ? metricsAffectedBy(changed)
      : [...METRIC_NAMES];
  const reused = METRIC_NAMES.filter((m) => !recomputed.includes(m));
  const computed = await computeMetricsDetailed(
    tx,
    asOf,
    recomputed,
    {
      runId,
      previousRunId: state.lastRunId,
      changed: mode === 'incremental' ? new Set(changed) : null,
    },
    timezone,
  );
  let at = performance.now();
  const carried = await storedSnapshots(tx, reused);
  const carryMs = Math.round(performance.now() - at);
  at = performance.now();
  const snapshots = sortSnapshots([...computed.snapshots, ...carried]);
  const stored = await storeSnapshots(tx, snapshots, runId, new Set(carried.map(snapshotKey)));
  const metricSteps = {
    ...computed.steps,
    carry: carryMs,
    store: Math.round(performance.now() - at),
  };
  return {
    extracted,
    asOf,
    snapshots,
    stored,
    recomputed,
    aggregates: computed.upkeep!,
    timings: { extractMs, metricsMs: lap(), commitMs: 0, metricSteps },
  };
}

/** Refreshes one tenant's warehouse and computes its metric snapshots: start, commit, close. */
export async function refreshTenant(options: RefreshOptions): Promise<RefreshResult> {
  const refresh = await startRefresh(options);
  try {
    return await refresh.commit();
  } finally {
    await refresh.close();
  }
}
