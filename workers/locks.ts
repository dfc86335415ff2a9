import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../db/log.js';

/**
 * One refresh per tenant at a time (a DuckDB file has one writer). The queue's deduplication
 * already keeps one active job per tenant and mode; these locks close the remaining gaps: a
 * full rebuild and an incremental refresh of one tenant (two dedup ids), a job re-run after
 * its BullMQ lock lapsed while the first run still works, a second worker process.
 */
export interface Lease {
  /** True once the lease could not be renewed because someone else holds the lock now. */
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface TenantLocks {
  /** The tenant's lease, or null when another refresh of the tenant holds it. */
  tryAcquire(tenantId: string): Promise<Lease | null>;
}

/** In-process only: what the queue-less runner and the CLI use. */
export function localLocks(): TenantLocks {
  const held = new Set<string>();
  return {
    async tryAcquire(tenantId) {
      if (held.has(tenantId)) return null;
      held.add(tenantId);
      let released = false;
      return {
        lost: false,
        async release() {
          if (released) return;
          released = true;
          held.delete(tenantId);
        },
      };
    },
  };
}

// Compare-and-delete / compare-and-extend: only the holder's token may touch the lock.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisLocksOptions {
  /** Key namespace, e.g. `bull:metrics`; the lock is `<keyPrefix>:tenant-lock:<tenantId>`. */
  keyPrefix: string;
  /** Expiry of a lock whose holder died (`kill -9`): renewed every third of it while held. */
  ttlMs: number;
  log: Logger;
}

/**
 * Across processes: `SET key token NX PX ttl`, renewed while the refresh runs, released by
 * compare-and-delete. An in-process set sits in front so that two slots of one process
 * never race each other to Redis.
 */
export function redisLocks(redis: Redis, options: RedisLocksOptions): TenantLocks {
  const local = localLocks();
  const key = (tenantId: string) => `${options.keyPrefix}:tenant-lock:${tenantId}`;
  return {
    async tryAcquire(tenantId) {
      const inProcess = await local.tryAcquire(tenantId);
      if (!inProcess) return null;
      const token = randomUUID();
      let ok: string | null;
      try {
        ok = await redis.set(key(tenantId), token, 'PX', options.ttlMs, 'NX');
      } catch (err) {
        await inProcess.release();
        throw err;
      }
      if (ok !== 'OK') {
        await inProcess.release();
        return null;
      }
      let lost = false;
      let renewing = false;
      const timer = setInterval(
        () => {
          if (renewing) return;
          renewing = true;
          redis
            .eval(RENEW, 1, key(tenantId), token, String(options.ttlMs))
            .then((r) => {
              if (Number(r) !== 1 && !lost) {
                lost = true;
                options.log.error('tenant lock lost while refreshing', { tenant_id: tenantId });
                options.log.count('tenant_lock_lost');
              }
            })
            .catch((err: Error) =>
              options.log.warn('tenant lock not renewed', {
                tenant_id: tenantId,
                error: err.message,
              }),
            )
            .finally(() => (renewing = false));
        },
        Math.max(250, Math.floor(options.ttlMs / 3)),
      );
      timer.unref();
      let released = false;
      return {
        get lost() {
          return lost;
        },
        async release() {
          if (released) return;
          released = true;
          clearInterval(timer);
          await inProcess.release();
          // Bounded: with Redis away the lock simply expires after its TTL.
          let t: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            redis.eval(RELEASE, 1, key(tenantId), token),
            new Promise((resolve) => (t = setTimeout(resolve, 2_000))),
          ])
            .catch(() => undefined)
            .finally(() => clearTimeout(t));
        },
      };
    },
  };
}
