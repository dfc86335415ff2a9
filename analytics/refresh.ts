/**
 * The worker's single entry point: extract → warehouse → metrics, committed as ONE DuckDB
 * transaction, returning the snapshots to publish.
 *
 * ```ts
 * const result = await refreshTenant({ tenantId, branchUrl, warehouseDir, mode: 'incremental' });
 * await publishSnapshots(db, { tenantId, runId: result.runId, snapshots: result.snapshots,
 *                              payloadRuns: result.payloadRuns, dataAsOf: result.extractedAt });
 * ```
 *
 * A failure anywhere rolls the warehouse back to exactly its previous state and records the
 * error in `refresh_runs`; a process killed mid-refresh leaves its run `running` (marked
 * `abandoned` by the next run) and the previous state in place.
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
import {
  openWarehouse,
  type OpenWarehouseOptions,
  type RefreshMode,
  type TableCounts,
} from './warehouse.js';
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
  /**
   * The warehouse file stays attached until this settles (default: the end of the refresh),
   * then is detached — checkpointed — in the background. A worker passes its publication, so
   * that the checkpoint does not compete with it (`warehouseDetached` waits for it).
   */
  detachAfter?: Promise<unknown>;
  /**
   * Called once the figures are computed and stored, before the warehouse commits: the
   * snapshots, the `snapshotKey`s of those this run changed, and the instant the data is as
   * of. A worker starts rendering the dashboard pages they change here, while the commit
   * runs. Called at most once; an exception it throws fails the refresh.
   */
  beforeCommit?: (computed: {
    snapshots: readonly AnySnapshot[];
    changed: ReadonlySet<string>;
    extractedAt: string;
  }) => void;
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

/** Refreshes one tenant's warehouse and computes its metric snapshots. */
export async function refreshTenant(options: RefreshOptions): Promise<RefreshResult> {
  validate(options);
  const started = performance.now();
  const tenantId = options.tenantId.toLowerCase();
  const runId = options.runId ?? randomUUID();
  const timezone = options.timezone ?? 'UTC';
  const log = options.log ?? (() => undefined);
  const scratchRoot = join(resolve(options.warehouseDir), '.scratch');

  const warehouse = await openWarehouse({
    dir: options.warehouseDir,
    tenantId,
    ...options.duckdb,
  });
  let asOf: string | null = options.asOf ?? null;
  try {
    // Holding the file now, no other process refreshes this tenant: leftovers are stale.
    await clearScratch(scratchRoot, tenantId);
    const state = await warehouse.state();
    const mode: RefreshMode =
      options.mode === 'full' || !state.watermark || state.timezone !== timezone
        ? 'full'
        : 'incremental';
    const watermarkBefore = state.watermark;
    await warehouse.startRun({ runId, requestedMode: options.mode, mode, watermarkBefore });
    log({ event: 'refresh.start', runId, tenantId, requestedMode: options.mode, mode });
    try {
      const timings = {
        extractMs: 0,
        metricsMs: 0,
        commitMs: 0,
        metricSteps: {} as Record<string, number>,
      };
      let recomputed: MetricName[] = [];
      let aggregates = {} as BaseUpkeep;
      let mark = performance.now();
      const lap = () => {
        const now = performance.now();
        const ms = Math.round(now - mark);
        mark = now;
        return ms;
      };
      const result = await warehouse.transaction(async (tx) => {
        tx.keepDeltas(DELTA_TABLES);
        const extracted = await extractInto(tx, {
          tenantId,
          branchUrl: options.branchUrl,
          mode,
          since: mode === 'incremental' ? watermarkBefore : null,
          timezone,
          tmpDir: join(scratchRoot, `${tenantId}-${runId}`),
          chunkBytes: options.chunkBytes,
          tables: options.tables,
          afterTable: async (table, counts) => {
            log({ event: 'refresh.table', runId, table, counts });
            await options.afterTable?.(table, counts);
          },
        });
        asOf = options.asOf ?? extracted.today;
        timings.extractMs = lap();
        // Same as-of date and an incremental run: metrics whose inputs did not change keep
        // the figures stored by the previous run (they would come out identical).
        const changed = Object.entries(extracted.rowsPerTable)
          .filter(([, c]) => c.extracted > 0 || c.removed > 0)
          .map(([table]) => table);
        recomputed =
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
        aggregates = computed.upkeep!;
        let at = performance.now();
        const carried = await storedSnapshots(tx, reused);
        const carryMs = Math.round(performance.now() - at);
        at = performance.now();
        const snapshots = sortSnapshots([...computed.snapshots, ...carried]);
        const stored = await storeSnapshots(
          tx,
          snapshots,
          runId,
          new Set(carried.map(snapshotKey)),
        );
        timings.metricSteps = {
          ...computed.steps,
          carry: carryMs,
          store: Math.round(performance.now() - at),
        };
        timings.metricsMs = lap();
        options.beforeCommit?.({
          snapshots,
          changed: new Set(stored.json.keys()),
          extractedAt: extracted.extractedAt,
        });
        await tx.completeRun({
          runId,
          asOf,
          timezone,
          rowsPerTable: extracted.rowsPerTable,
          watermarkAfter: extracted.snapshot,
        });
        return { extracted, snapshots, stored, asOf };
      });
      // Replaced tables leave free blocks behind; a checkpoint returns them to the file.
      if (mode === 'full') await warehouse.checkpoint().catch(() => undefined);
      timings.commitMs = lap();
      const durationMs = Math.round(performance.now() - started);
      log({ event: 'refresh.done', runId, durationMs, snapshots: result.snapshots.length });
      return {
        runId,
        tenantId,
        requestedMode: options.mode,
        mode,
        asOf: result.asOf,
        extractedAt: result.extracted.extractedAt,
        rowsPerTable: result.extracted.rowsPerTable,
        watermarkBefore,
        watermarkAfter: result.extracted.snapshot,
        snapshots: result.snapshots,
        payloadRuns: result.stored.runs,
        payloadJson: result.stored.json,
        changedSnapshots: result.stored.json.size,
        durationMs,
        timings,
        recomputed,
        aggregates,
      };
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      await warehouse.failRun(runId, message, asOf).catch(() => undefined);
      log({
        event: 'refresh.failed',
        runId,
        durationMs: Math.round(performance.now() - started),
        error: message,
      });
      throw err;
    }
  } finally {
    await warehouse.close(options.detachAfter);
  }
}
