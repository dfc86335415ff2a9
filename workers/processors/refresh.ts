import { DelayedError, UnrecoverableError, type Processor } from 'bullmq';
import { publishSnapshots } from '../../analytics/publish.js';
import { RefreshInputError, refreshTenant, type RefreshLogEvent } from '../../analytics/refresh.js';
import { warehouseDetached } from '../../analytics/warehouse.js';
import {
  dashboardPublisher,
  renderChangedPages,
  type EarlyPages,
  type StoreResult,
} from '../../dashboards/store.js';
import type { RefreshJobData, RefreshJobResult, RefreshMode, TableCounts } from '../contract.js';
import type { TenantDirectory, TenantRecord } from '../control.js';
import type { TenantLocks } from '../locks.js';
import type { Logger } from '../../db/log.js';
import { isUuid } from '../../db/ids.js';

/**
 * A tenant's refresh: control-plane lookup → `refreshTenant` (extract → DuckDB → metrics,
 * one warehouse commit) → `publishSnapshots` (one branch transaction, app role, tenant set).
 * The BullMQ processor, the queue-less runner and `npm run refresh` all run `runRefresh`.
 */

const MODES: readonly RefreshMode[] = ['incremental', 'full'];

export interface RefreshDeps {
  directory: TenantDirectory;
  locks: TenantLocks;
  /** Directory of the tenants' DuckDB files (`<dir>/<tenantId>.duckdb`). */
  warehouseDir: string;
  log: Logger;
  duckdb?: { memoryLimit?: string; threads?: number; lockTimeoutMs?: number };
  /** Tests only: called inside the warehouse transaction after each table is loaded. */
  afterTable?: (table: string, counts: TableCounts) => void | Promise<void>;
}

/** Another refresh of the same tenant holds its lock; try again later. */
export class TenantBusyError extends Error {
  override name = 'TenantBusyError';
  constructor(readonly tenantId: string) {
    super(`a refresh of tenant ${tenantId} is already running`);
  }
}

/** Checks a payload: ids only, nothing else. Anything malformed can never succeed. */
export function parseRefreshJobData(data: unknown): RefreshJobData {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new UnrecoverableError('refresh payload must be an object');
  }
  const { tenantId, mode, ...rest } = data as Record<string, unknown>;
  if (Object.keys(rest).length > 0) {
    throw new UnrecoverableError('refresh payload carries only tenantId and mode');
  }
  if (!isUuid(tenantId)) {
    throw new UnrecoverableError('refresh payload: tenantId must be a UUID');
  }
  if (!MODES.includes(mode as RefreshMode)) {
    throw new UnrecoverableError('refresh payload: mode must be incremental or full');
  }
  return { tenantId: tenantId.toLowerCase(), mode: mode as RefreshMode };
}

/** The tenant a refresh is for; unknown, suspended and cancelled tenants never succeed. */
async function resolveTenant(directory: TenantDirectory, tenantId: string): Promise<TenantRecord> {
  const tenant = await directory.tenant(tenantId);
  if (!tenant) throw new UnrecoverableError(`unknown tenant ${tenantId}`);
  if (tenant.status !== 'active') {
    throw new UnrecoverableError(`tenant ${tenantId} is ${tenant.status}`);
  }
  return tenant;
}

export interface RefreshContext {
  jobId?: string | undefined;
  attempt?: number;
}

/**
 * Validates, looks up, locks, refreshes and publishes. Throws `UnrecoverableError` for input
 * that can never succeed, `TenantBusyError` when the tenant's lock is taken, anything else
 * for a failure worth retrying.
 */
export async function runRefresh(
  deps: RefreshDeps,
  input: unknown,
  context: RefreshContext = {},
): Promise<RefreshJobResult> {
  const data = parseRefreshJobData(input);
  const tenant = await resolveTenant(deps.directory, data.tenantId);
  const lease = await deps.locks.tryAcquire(tenant.id);
  if (!lease) throw new TenantBusyError(tenant.id);
  // The warehouse file is checkpointed and detached once the publication is done (not
  // while it renders), and before the tenant's lock is given up.
  let published!: () => void;
  const publication = new Promise<void>((resolve) => (published = resolve));
  try {
    const result = await refreshAndPublish(deps, tenant, data.mode, context, {
      leaseLost: () => lease.lost,
      publication,
    });
    published();
    const detaching = performance.now();
    await warehouseDetached(deps.warehouseDir, tenant.id);
    result.timings.detachMs = Math.round(performance.now() - detaching);
    return result;
  } finally {
    published();
    await warehouseDetached(deps.warehouseDir, tenant.id);
    await lease.release();
  }
}

async function refreshAndPublish(
  deps: RefreshDeps,
  tenant: TenantRecord,
  requestedMode: RefreshMode,
  context: RefreshContext,
  run: { leaseLost: () => boolean; publication: Promise<void> },
): Promise<RefreshJobResult> {
  const startedAt = new Date();
  const started = performance.now();
  const fields = { job_id: context.jobId, tenant_id: tenant.id, attempt: context.attempt };
  const log = deps.log;
  const branch = await deps.directory.branch(tenant.branchId);

  let result;
  let early: EarlyPages | undefined;
  try {
    result = await refreshTenant({
      tenantId: tenant.id,
      branchUrl: branch.url,
      warehouseDir: deps.warehouseDir,
      mode: requestedMode,
      timezone: tenant.timezone,
      log: (event) => logRefreshEvent(log, fields, event),
      detachAfter: run.publication,
      // The pages whose figures changed render while the warehouse commits.
      beforeCommit: ({ snapshots, changed, extractedAt }) => {
        early = renderChangedPages(branch.db, {
          tenantId: tenant.id,
          snapshots,
          changed,
          dataAsOf: extractedAt,
        });
      },
      ...(deps.duckdb ? { duckdb: deps.duckdb } : {}),
      ...(deps.afterTable ? { afterTable: deps.afterTable } : {}),
    });
  } catch (err) {
    if (err instanceof RefreshInputError) throw new UnrecoverableError(err.message);
    throw err;
  }
  const refreshMs = Math.round(performance.now() - started);

  // A lapsed lock means another run of this tenant may be under way: its publication is the
  // newer one, so this run must not overwrite it. Failing retries the job (incremental, cheap).
  if (run.leaseLost())
    throw new Error(`tenant lock lost during refresh ${result.runId}; not publishing`);
  const publishStarted = performance.now();
  let pages: (StoreResult & { renderMs: number; storeMs: number }) | undefined;
  const published = await publishSnapshots(branch.db, {
    tenantId: tenant.id,
    runId: result.runId,
    snapshots: result.snapshots,
    payloadRuns: result.payloadRuns,
    payloadJson: result.payloadJson,
    dataAsOf: result.extractedAt,
    // Dashboard pages are rendered and stored in the same transaction as the figures: those
    // whose figures changed, or every page on a full refresh.
    ...dashboardPublisher({
      tenantId: tenant.id,
      runId: result.runId,
      renderAll: result.mode === 'full',
      onStored: (stored) => (pages = stored),
      ...(early ? { early } : {}),
    }),
  });
  const publishMs = Math.round(performance.now() - publishStarted);
  const totalMs = Math.round(performance.now() - started);

  const summary: RefreshJobResult = {
    tenantId: tenant.id,
    runId: result.runId,
    requestedMode,
    mode: result.mode,
    asOf: result.asOf,
    dataAsOf: result.extractedAt,
    rowsPerTable: result.rowsPerTable,
    watermarkBefore: result.watermarkBefore,
    watermarkAfter: result.watermarkAfter,
    snapshots: result.snapshots.length,
    published,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    timings: {
      ...result.timings,
      ...publishDetail(published, pages),
      refreshMs,
      publishMs,
      totalMs,
    },
  };
  const rows = Object.values(result.rowsPerTable).reduce((n, c) => n + c.extracted, 0);
  log.info('refresh.published', {
    ...fields,
    run_id: result.runId,
    mode: result.mode,
    as_of: result.asOf,
    rows_extracted: rows,
    snapshots: result.snapshots.length,
    upserted: published.upserted,
    unchanged: published.unchanged,
    retired: published.retired,
    dashboard_pages: pages?.upserted,
    dashboard_pages_unchanged: pages?.unchanged,
    render_ms: pages?.renderMs,
    refresh_ms: refreshMs,
    publish_ms: publishMs,
    total_ms: totalMs,
  });
  return summary;
}

/** Where the publication went: snapshot rows and dashboard pages written or left as they were. */
function publishDetail(
  published: { upserted: number; unchanged: number; retired: number; upsertMs: number },
  pages: (StoreResult & { renderMs: number; storeMs: number }) | undefined,
): { publishSteps: Record<string, number> } {
  return {
    publishSteps: {
      snapshotsUpserted: published.upserted,
      snapshotsUnchanged: published.unchanged,
      upsertMs: published.upsertMs,
      pagesRendered: pages?.upserted ?? 0,
      pagesUnchanged: pages?.unchanged ?? 0,
      renderMs: pages?.renderMs ?? 0,
      pagesStoreMs: pages?.storeMs ?? 0,
    },
  };
}

function logRefreshEvent(log: Logger, fields: Record<string, unknown>, event: RefreshLogEvent) {
  const { event: name, ...rest } = event;
  const payload: Record<string, unknown> = { ...fields };
  for (const [k, v] of Object.entries(rest)) {
    payload[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  }
  if (name === 'refresh.failed') log.warn(name, payload);
  else if (name === 'refresh.table') log.debug(name, payload);
  else log.info(name, payload);
}

export interface RefreshProcessorOptions extends RefreshDeps {
  /** Base delay before a job whose tenant is busy is tried again (jittered ×0.5–1.5). */
  lockRetryMs: number;
}

/** The BullMQ processor for `refresh` jobs. */
export function createRefreshProcessor(
  options: RefreshProcessorOptions,
): Processor<RefreshJobData, RefreshJobResult> {
  return async function refresh(job, token) {
    try {
      return await runRefresh(options, job.data, {
        jobId: job.id,
        attempt: job.attemptsMade + 1,
      });
    } catch (err) {
      if (!(err instanceof TenantBusyError)) throw err;
      // Not a failure: park the job without spending an attempt. The dedup key still points
      // at it, so writes meanwhile coalesce into this job.
      const delay = Math.round(options.lockRetryMs * (0.5 + Math.random()));
      options.log.debug('refresh.deferred', {
        job_id: job.id,
        tenant_id: err.tenantId,
        retry_in_ms: delay,
      });
      options.log.count('refresh_deferred');
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }
  };
}
