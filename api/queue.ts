import { Queue } from 'bullmq';
import { REFRESH_JOB, refreshJobOptions, type RefreshJobData } from '../workers/contract.js';
import type { Logger } from './log.js';
import type { RedisProvider } from './redis.js';

/** Asks the workers to refresh a tenant's metrics after a committed write. */
export interface RefreshQueue {
  /** Resolves true when enqueued; false (logged and counted) when Redis could not take it. */
  enqueueRefresh(tenantId: string): Promise<boolean>;
  close(): Promise<void>;
}

const ENQUEUE_TIMEOUT_MS = 1_000;

/**
 * BullMQ producer. The write it follows has already committed, so a failure here only
 * delays freshness (the scheduler's sweep catches up): it must never fail or hang the
 * request, hence the missing offline queue and the timeout.
 *
 * Requests for one tenant coalesce in the process: while an add is in flight, later
 * requests wait for one more add that starts after the current one ends — so every
 * caller is followed by an add issued after its commit, and a burst of writes costs two
 * Redis scripts instead of one per write.
 */
export function bullRefreshQueue(
  redis: RedisProvider,
  options: { queueName: string; debounceMs: number; log: Logger },
): RefreshQueue {
  let queue: Queue<RefreshJobData> | null = null;
  const inflight = new Map<string, { again: boolean; done: Promise<boolean> }>();

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
    enqueueRefresh(tenantId) {
      const current = inflight.get(tenantId);
      if (current) {
        current.again = true;
        return current.done;
      }
      const entry = { again: false, done: Promise.resolve(true) };
      entry.done = (async () => {
        try {
          let ok: boolean;
          do {
            entry.again = false;
            ok = await add(tenantId);
          } while (entry.again);
          return ok;
        } finally {
          inflight.delete(tenantId);
        }
      })();
      inflight.set(tenantId, entry);
      return entry.done;
    },
    async close() {
      // The connection belongs to the RedisProvider; closing the queue must not end it.
      queue = null;
    },
  };
}
