import { Queue } from 'bullmq';
import {
  IMPORT_JOB,
  importJobOptions,
  REFRESH_JOB,
  refreshJobOptions,
  type RefreshJobData,
} from '../workers/contract.js';
import type { Logger } from '../db/log.js';
import type { RedisProvider } from './redis.js';

/** Asks the workers to refresh a tenant's metrics after a committed write. */
export interface RefreshQueue {
  /** Resolves true when enqueued; false (logged and counted) when Redis could not take it. */
  enqueueRefresh(tenantId: string): Promise<boolean>;
  /**
   * Asks a worker to run an uploaded import (its bundle is in the `data_imports` row).
   * Resolves false when it could not be handed over; absent where nothing can run one.
   */
  enqueueImport?(tenantId: string, importId: string): Promise<boolean>;
  close(): Promise<void>;
}

const ENQUEUE_TIMEOUT_MS = 1_000;

interface TenantAdds {
  running: Promise<boolean>;
  /** The add that starts after the running one, for the callers who arrived meanwhile. */
  next: { promise: Promise<boolean>; resolve: (ok: boolean) => void } | null;
}

function deferred(): NonNullable<TenantAdds['next']> {
  let resolve!: (ok: boolean) => void;
  const promise = new Promise<boolean>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * BullMQ producer. The write it follows has already committed, so a failure here only
 * delays freshness (the scheduler's sweep catches up): it must never fail or hang the
 * request, hence the missing offline queue and the timeout.
 *
 * Requests for one tenant coalesce in the process: while an add is in flight, later
 * requests share one more add that starts when it ends — so every caller is followed by an
 * add issued after its commit, no caller waits for more than two adds (each bounded by the
 * timeout), and a burst of writes costs two Redis scripts instead of one per write.
 */
export function bullRefreshQueue(
  redis: RedisProvider,
  options: { queueName: string; debounceMs: number; log: Logger },
): RefreshQueue {
  let queue: Queue<RefreshJobData> | null = null;
  const tenants = new Map<string, TenantAdds>();

  /** Runs one add, then the add the callers who arrived meanwhile are waiting for. */
  async function run(tenantId: string, state: TenantAdds): Promise<boolean> {
    const ok = await add(tenantId);
    const waiting = state.next;
    state.next = null;
    if (waiting) {
      state.running = run(tenantId, state);
      void state.running.then(waiting.resolve);
    } else {
      tenants.delete(tenantId);
    }
    return ok;
  }

  async function add(tenantId: string): Promise<boolean> {
    try {
      const client = await redis.get();
      if (!client) throw new Error('redis unavailable');
      if (!queue) {
        queue = new Queue<RefreshJobData>(options.queueName, { connection: client });
        queue.on('error', () => {});
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('enqueue timed out')), ENQUEUE_TIMEOUT_MS);
      });
      try {
        await Promise.race([
          queue.add(
            REFRESH_JOB,
            { tenantId, mode: 'incremental' },
            refreshJobOptions(tenantId, options.debounceMs),
          ),
          timeout,
        ]);
      } finally {
        clearTimeout(timer);
      }
      return true;
    } catch (err) {
      options.log.count('enqueue_failed');
      options.log.warn('metrics refresh not enqueued; the scheduled sweep will catch up', {
        tenant_id: tenantId,
        error: (err as Error).message,
      });
      return false;
    }
  }

  return {
    async enqueueImport(tenantId, importId) {
      try {
        const client = await redis.get();
        if (!client) throw new Error('redis unavailable');
        queue ??= new Queue<RefreshJobData>(options.queueName, { connection: client });
        await (queue as unknown as Queue<{ tenantId: string; importId: string }>).add(
          IMPORT_JOB,
          { tenantId, importId },
          importJobOptions,
        );
        return true;
      } catch (err) {
        options.log.warn('import not enqueued', {
          tenant_id: tenantId,
          error: (err as Error).message,
        });
        return false;
      }
    },
    enqueueRefresh(tenantId) {
      const state = tenants.get(tenantId);
      if (!state) {
        // Nothing in flight: this caller's add starts now.
        const fresh: TenantAdds = { running: Promise.resolve(true), next: null };
        tenants.set(tenantId, fresh);
        fresh.running = run(tenantId, fresh);
        return fresh.running;
      }
      // An add is in flight and may have started before this caller's commit: wait for the
      // one add that starts after it, shared by everyone who arrives meanwhile.
      state.next ??= deferred();
      return state.next.promise;
    },
    async close() {
      // The connection belongs to the RedisProvider; closing the queue must not end it.
      queue = null;
    },
  };
}
