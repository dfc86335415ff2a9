import { UnrecoverableError, type Processor, type Queue } from 'bullmq';
import {
  REFRESH_JOB,
  refreshJobOptions,
  type MetricsJobData,
  type RefreshMode,
  type SweepJobData,
  type SweepJobResult,
} from '../contract.js';
import type { TenantDirectory } from '../control.js';
import type { Logger } from '../../db/log.js';

/**
 * The scheduler's sweep: one refresh job per active tenant, added with the same
 * deduplication options as the API's, so a sweep coalesces with pending API-triggered
 * refreshes instead of doubling them. A lost trigger (Redis was down at write time) only
 * delays freshness until the next sweep.
 */

export interface SweepOptions {
  directory: TenantDirectory;
  queue: Queue<MetricsJobData>;
  log: Logger;
}

const BATCH = 50;

export function parseSweepJobData(data: unknown): SweepJobData {
  const mode = (data as { mode?: unknown } | null)?.mode;
  if (mode !== 'incremental' && mode !== 'full') {
    throw new UnrecoverableError('sweep payload: mode must be incremental or full');
  }
  return { mode };
}

/** Adds a refresh of `mode` for every active tenant; returns how many were requested. */
export async function sweepTenants(
  options: SweepOptions,
  mode: RefreshMode,
): Promise<SweepJobResult> {
  const tenants = await options.directory.activeTenants();
  let enqueued = 0;
  for (let i = 0; i < tenants.length; i += BATCH) {
    await Promise.all(
      tenants.slice(i, i + BATCH).map(async (t) => {
        await options.queue.add(
          REFRESH_JOB,
          { tenantId: t.id, mode },
          refreshJobOptions(t.id, 0, mode),
        );
        enqueued++;
      }),
    );
  }
  options.log.info('sweep.done', { mode, tenants: tenants.length, enqueued });
  return { mode, tenants: tenants.length, enqueued };
}

/** The BullMQ processor for `sweep` jobs. */
export function createSweepProcessor(
  options: SweepOptions,
): Processor<SweepJobData, SweepJobResult> {
  return async function sweep(job) {
    return sweepTenants(options, parseSweepJobData(job.data).mode);
  };
}
