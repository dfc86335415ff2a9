/**
 * The metrics queue's contract, shared by producers (the API, the scheduler) and the
 * workers. Payloads carry ids only — never names, emails or other personal data.
 */

export const METRICS_QUEUE = 'metrics';

/** BullMQ's own default key prefix: the API's producer uses it, so the workers do too. */
export const DEFAULT_QUEUE_PREFIX = 'bull';

export type RefreshMode = 'incremental' | 'full';

export interface RefreshJobData {
  tenantId: string;
  mode: RefreshMode;
}

export const REFRESH_JOB = 'refresh';

/** The scheduler's job: enqueue one refresh of `mode` for every active tenant. */
export interface SweepJobData {
  mode: RefreshMode;
}

export const SWEEP_JOB = 'sweep';

/** An uploaded OneRoster bundle to import (the bundle waits in its `data_imports` row). */
export interface ImportJobData {
  tenantId: string;
  importId: string;
}

export const IMPORT_JOB = 'import';

/** An import runs once: a failed one has its report; the admin uploads again. */
export const importJobOptions = {
  attempts: 1,
  removeOnComplete: { count: 1_000 },
  removeOnFail: { count: 5_000 },
};

/** Everything the metrics queue carries. */
export type MetricsJobData = RefreshJobData | SweepJobData;

/** Rows one refresh moved for one warehouse table (counts only). */
export interface TableCounts {
  extracted: number;
  removed: number;
  total: number;
}

/**
 * What a refresh job returns (stored by BullMQ as the job's return value, so: ids, counts,
 * timings and watermarks only).
 */
export interface RefreshJobResult {
  tenantId: string;
  runId: string;
  requestedMode: RefreshMode;
  /** What ran: `full` when requested, on the first run or after a time-zone change. */
  mode: RefreshMode;
  asOf: string;
  /** When the data was read (ISO-8601 UTC): `metric_snapshots.as_of`. */
  dataAsOf: string;
  rowsPerTable: Record<string, TableCounts>;
  watermarkBefore: string | null;
  watermarkAfter: string;
  snapshots: number;
  /** Snapshot rows written, left as they were (already holding their payload), retired. */
  published: { upserted: number; unchanged: number; retired: number; upsertMs: number };
  startedAt: string;
  finishedAt: string;
  timings: {
    extractMs: number;
    metricsMs: number;
    commitMs: number;
    refreshMs: number;
    publishMs: number;
    /** From the start to the publication's commit: what the figures' freshness waits for. */
    totalMs: number;
    /** After the publication, before the tenant's lock is released: checkpointing and detaching the warehouse file. */
    detachMs?: number;
    /** The metrics step in detail (ms): kept aggregates, each metric, carrying over, storing. */
    metricSteps: Record<string, number>;
    /** The publication in detail: rows and pages written or left, and where the time went (…Ms). */
    publishSteps: Record<string, number>;
  };
}

export interface SweepJobResult {
  mode: RefreshMode;
  tenants: number;
  enqueued: number;
}

/**
 * Deduplication id of a tenant's refresh: at most one waiting and one active per tenant and
 * mode. Full rebuilds have their own id so that a pending incremental refresh cannot swallow
 * the nightly rebuild; the workers' per-tenant lock keeps the two from running at once.
 */
export const refreshDedupId = (tenantId: string, mode: RefreshMode = 'incremental') =>
  mode === 'full' ? `refresh:${tenantId}:full` : `refresh:${tenantId}`;

/** Retries of a failed refresh: 2 s, 4 s, 8 s, 16 s, each shortened by up to half at random. */
export const REFRESH_RETRY = {
  attempts: 5,
  backoff: { type: 'exponential' as const, delay: 2_000, jitter: 0.5 },
};

/** Options every refresh job is added with. */
export function refreshJobOptions(
  tenantId: string,
  debounceMs: number,
  mode: RefreshMode = 'incremental',
) {
  return {
    delay: debounceMs,
    deduplication: { id: refreshDedupId(tenantId, mode), keepLastIfActive: true },
    attempts: REFRESH_RETRY.attempts,
    backoff: { ...REFRESH_RETRY.backoff },
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 5_000 },
  };
}
