/**
 * The metrics queue's contract, shared by producers (the API, the scheduler) and the
 * workers. Payloads carry ids only — never names, emails or other personal data.
 */

export const METRICS_QUEUE = 'metrics';

export type RefreshMode = 'incremental' | 'full';

export interface RefreshJobData {
  tenantId: string;
  mode: RefreshMode;
}

export const REFRESH_JOB = 'refresh';

/** Deduplication id of a tenant's refresh: at most one waiting and one active per tenant. */
export const refreshDedupId = (tenantId: string) => `refresh:${tenantId}`;

/** Options every refresh job is added with. */
export function refreshJobOptions(tenantId: string, debounceMs: number) {
  return {
    delay: debounceMs,
    deduplication: { id: refreshDedupId(tenantId), keepLastIfActive: true },
    attempts: 5,
    backoff: { type: 'exponential' as const, delay: 2_000, jitter: 0.5 },
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 5_000 },
  };
}
