/**
 * One tenant's refresh, from the branch to the published figures and pages, with the tenant's
 * lock held. The BullMQ processor, the in-process runner and `npm run refresh` all come here
 * through `runRefresh` (`processors/refresh.ts`: input, tenant, lock).
 *
 * 1. the warehouse refresh — extract → DuckDB → metrics — left uncommitted;
 * 2. the dashboard pages whose figures changed start rendering …
 * 3. … while the warehouse commits;
 * 4. snapshots and pages are published in ONE branch transaction (app role, tenant set); the
 *    pages the publication makes stale render while the snapshot rows are written;
 * 5. the warehouse file is checkpointed and detached: after the publication, so its writes
 *    do not compete with rendering, and before the lock is given up.
 *
 * Analytics and dashboards never call each other: this file is where the two meet.
 */
import {
  planPublication,
  writePublication,
  type PublishOptions,
  type PublishResult,
} from '../analytics/publish.js';
import { startRefresh, type RefreshLogEvent, type RefreshResult } from '../analytics/refresh.js';
import {
  planPages,
  renderChangedPages,
  storePlannedPages,
  type PagesAhead,
  type StoredPages,
} from '../dashboards/store.js';
import type { Db, DbSchema } from '../db/connection.js';
import { withTenant } from '../db/tenancy.js';
import type { RefreshJobResult, RefreshMode, TableCounts } from './contract.js';
import type { TenantDirectory, TenantRecord } from './control.js';
import type { Logger } from '../db/log.js';

export interface RefreshAndPublishDeps {
  /** Where the tenant's branch is (`directory.branch`). */
  directory: TenantDirectory;
  /** Directory of the tenants' DuckDB files (`<dir>/<tenantId>.duckdb`). */
  warehouseDir: string;
  log: Logger;
  duckdb?: { memoryLimit?: string; threads?: number; lockTimeoutMs?: number };
  /** Tests only: called inside the warehouse transaction after each table is loaded. */
  afterTable?: (table: string, counts: TableCounts) => void | Promise<void>;
}

export interface RefreshRun {
  jobId?: string | undefined;
  attempt?: number | undefined;
  /** Whether the tenant's lock lapsed meanwhile (checked before publishing). */
  leaseLost: () => boolean;
}

/** Refreshes a tenant's warehouse and publishes its figures and dashboard pages. */
export async function refreshAndPublish(
  deps: RefreshAndPublishDeps,
  tenant: TenantRecord,
  requestedMode: RefreshMode,
  run: RefreshRun,
): Promise<RefreshJobResult> {
  const startedAt = new Date();
  const started = performance.now();
  const fields = { job_id: run.jobId, tenant_id: tenant.id, attempt: run.attempt };
  const branch = await deps.directory.branch(tenant.branchId);

  // 1. Extract → DuckDB → metrics, in a warehouse transaction left open.
  const refresh = await startRefresh({
    tenantId: tenant.id,
    branchUrl: branch.url,
    warehouseDir: deps.warehouseDir,
    mode: requestedMode,
    timezone: tenant.timezone,
    log: (event) => logRefreshEvent(deps.log, fields, event),
    ...(deps.duckdb ? { duckdb: deps.duckdb } : {}),
    ...(deps.afterTable ? { afterTable: deps.afterTable } : {}),
  });
  let result: RefreshResult;
  let publication: Publication;
  let refreshMs: number;
  let publishMs: number;
  let totalMs: number;
  let detachMs = 0;
  try {
    // 2. The pages whose figures changed start rendering …
    const ahead = renderChangedPages(branch.db, {
      tenantId: tenant.id,
      snapshots: refresh.snapshots,
      changed: refresh.changed,
      dataAsOf: refresh.extractedAt,
    });
    // 3. … while the warehouse commits.
    result = await refresh.commit();
    refreshMs = Math.round(performance.now() - started);

    // A lapsed lock means another run of this tenant may be under way: its publication is
    // the newer one, so this run must not overwrite it. Failing retries the job (cheap).
    if (run.leaseLost())
      throw new Error(`tenant lock lost during refresh ${result.runId}; not publishing`);
    // 4. Figures and pages, in one branch transaction.
    const publishStarted = performance.now();
    publication = await publishFiguresAndPages(branch.db, {
      tenantId: tenant.id,
      runId: result.runId,
      snapshots: result.snapshots,
      payloadRuns: result.payloadRuns,
      payloadJson: result.payloadJson,
      dataAsOf: result.extractedAt,
      // Every page on a full refresh (rendering itself may have changed).
      renderAll: result.mode === 'full',
      ahead,
    });
    publishMs = Math.round(performance.now() - publishStarted);
    totalMs = Math.round(performance.now() - started);
  } finally {
    // 5. Checkpoint and detach the warehouse file (rolling back a run that did not commit).
    const detaching = performance.now();
    await refresh.close();
    detachMs = Math.round(performance.now() - detaching);
  }

  const { published, pages } = publication;
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
      detachMs,
    },
  };
  const rows = Object.values(result.rowsPerTable).reduce((n, c) => n + c.extracted, 0);
  deps.log.info('refresh.published', {
    ...fields,
    run_id: result.runId,
    mode: result.mode,
    as_of: result.asOf,
    rows_extracted: rows,
    snapshots: result.snapshots.length,
    upserted: published.upserted,
    unchanged: published.unchanged,
    retired: published.retired,
    dashboard_pages: pages.upserted,
    dashboard_pages_unchanged: pages.unchanged,
    render_ms: pages.renderMs,
    refresh_ms: refreshMs,
    publish_ms: publishMs,
    total_ms: totalMs,
  });
  return summary;
}

export interface Publication {
  published: PublishResult;
  pages: StoredPages;
}

/**
 * Publishes a refresh's snapshots and stores its dashboard pages in one tenant transaction:
 * a reader sees both of one run or neither. The pages whose inputs the publication rewrites
 * are planned (and start rendering) before the snapshot rows are written; taken from `ahead`
 * where they agree.
 */
export async function publishFiguresAndPages<TSchema extends DbSchema>(
  db: Db<TSchema>,
  options: PublishOptions & { renderAll?: boolean; ahead?: PagesAhead },
): Promise<Publication> {
  const { tenantId, runId, snapshots, renderAll, ahead } = options;
  return withTenant(db, tenantId, async (tx) => {
    const plan = await planPublication(tx, options);
    // A publication that retires snapshots (a school gone) changes pages that the plan
    // before the write cannot see: it plans them after the write instead.
    const planned =
      plan.retiring.length === 0
        ? await planPages(tx, { tenantId, snapshots, renderAll, ahead, publishing: plan })
        : null;
    const published = await writePublication(tx, plan);
    const pagePlan = planned ?? (await planPages(tx, { tenantId, snapshots, renderAll, ahead }));
    const pages = await storePlannedPages(tx, pagePlan, { tenantId, runId });
    return { published, pages };
  });
}

/** Where the publication went: snapshot rows and dashboard pages written or left as they were. */
function publishDetail(
  published: PublishResult,
  pages: StoredPages,
): { publishSteps: Record<string, number> } {
  return {
    publishSteps: {
      snapshotsUpserted: published.upserted,
      snapshotsUnchanged: published.unchanged,
      upsertMs: published.upsertMs,
      pagesRendered: pages.upserted,
      pagesUnchanged: pages.unchanged,
      renderMs: pages.renderMs,
      pagesStoreMs: pages.storeMs,
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
