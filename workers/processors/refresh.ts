import { DelayedError, UnrecoverableError, type Processor } from 'bullmq';
import { RefreshInputError } from '../../analytics/refresh.js';
import type { RefreshJobData, RefreshJobResult, RefreshMode } from '../contract.js';
import type { TenantDirectory, TenantRecord } from '../control.js';
import type { TenantLocks } from '../locks.js';
import { refreshAndPublish, type RefreshAndPublishDeps } from '../refresh-and-publish.js';
import type { Logger } from '../../db/log.js';
import { isUuid } from '../../db/ids.js';

/**
 * A tenant's refresh job: the payload checked, the tenant looked up in the control plane and
 * locked, then `refreshAndPublish` (warehouse → figures and pages published). The BullMQ
 * processor, the queue-less runner and `npm run refresh` all run `runRefresh`.
 */

const MODES: readonly RefreshMode[] = ['incremental', 'full'];

export interface RefreshDeps extends RefreshAndPublishDeps {
  locks: TenantLocks;
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
  try {
    return await refreshAndPublish(deps, tenant, data.mode, {
      ...context,
      leaseLost: () => lease.lost,
    });
  } catch (err) {
    if (err instanceof RefreshInputError) throw new UnrecoverableError(err.message);
    throw err;
  } finally {
    await lease.release();
  }
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
