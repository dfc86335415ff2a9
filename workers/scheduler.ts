import type { Queue } from 'bullmq';
import { SWEEP_JOB, type MetricsJobData, type RefreshMode } from './contract.js';

/**
 * BullMQ job schedulers for the metrics queue (docs/architecture.md#background-path): an
 * incremental sweep over every active tenant every `intervalMs`, and a nightly full rebuild on a
 * cron evaluated in UTC. Upserts are idempotent and keyed by a fixed id, so every worker process
 * may run them at start (and again after Redis comes back empty) without creating duplicates.
 */

export const SWEEP_SCHEDULER_ID = 'metrics:sweep';
export const FULL_REBUILD_SCHEDULER_ID = 'metrics:full-rebuild';

export interface SchedulerOptions {
  /** Incremental sweep period (default 15 min). */
  intervalMs: number;
  /** Full rebuild cron (default `0 3 * * *`), in UTC. */
  fullRebuildCron: string;
}

const sweepJobOptions = {
  attempts: 3,
  backoff: { type: 'exponential' as const, delay: 5_000, jitter: 0.5 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 500 },
};

/** Creates or updates both schedulers. */
export async function upsertSchedulers(
  queue: Queue<MetricsJobData>,
  options: SchedulerOptions,
): Promise<void> {
  await queue.upsertJobScheduler(
    SWEEP_SCHEDULER_ID,
    { every: options.intervalMs },
    { name: SWEEP_JOB, data: { mode: 'incremental' }, opts: sweepJobOptions },
  );
  await queue.upsertJobScheduler(
    FULL_REBUILD_SCHEDULER_ID,
    { pattern: options.fullRebuildCron, tz: 'UTC' },
    { name: SWEEP_JOB, data: { mode: 'full' }, opts: sweepJobOptions },
  );
}

/** Adds one sweep now (operators, tests): the same job the schedulers produce. */
export async function triggerSweep(
  queue: Queue<MetricsJobData>,
  mode: RefreshMode = 'incremental',
): Promise<string | undefined> {
  const job = await queue.add(SWEEP_JOB, { mode }, sweepJobOptions);
  return job.id;
}
