import type { Context } from 'hono';
import type { DbHandle, DbOptions } from '../../db/connection.js';
import * as controlSchema from '../../db/schema/control.js';
import * as tenantSchema from '../../db/schema/tenant.js';
import { provisionerFor } from '../../db/tenants/branches.js';
import { addUsage, type UsageCount, type UsageKind } from '../../db/tenants/usage.js';
import type { AppEnv } from '../app-env.js';
import { createTokenKeys, type TokenKeys } from '../auth/jwt.js';
import type { ApiConfig } from '../env.js';
import type { Logger } from '../../db/log.js';
import { MemoryRateLimiter, RedisRateLimiter } from '../middleware/rate-limit.js';
import { bullRefreshQueue } from '../queue.js';
import { bullMailQueue } from '../mail-queue.js';
import type { RedisProvider } from '../redis.js';
import type { Services, TenantDb, UsageRecorder } from '../services.js';
import {
  ControlPlane,
  TtlCache,
  type ControlDb,
  type TenantContext,
} from '../../db/control-plane.js';
import type { TenantStatus } from '../../db/schema/control.js';

/** State that may outlive a request: caches and imported keys (no sockets). */
export interface LongLived {
  config: ApiConfig;
  log: Logger;
  keys: Promise<TokenKeys>;
  hostCache: TtlCache<TenantContext>;
  statusCache: TtlCache<TenantStatus>;
  branchCache: TtlCache<string>;
  memoryLimiter: MemoryRateLimiter;
}

export function longLived(config: ApiConfig, log: Logger): LongLived {
  return {
    config,
    log,
    keys: createTokenKeys(config.signingKeys, config.JWT_ISSUER),
    hostCache: new TtlCache(),
    statusCache: new TtlCache(),
    branchCache: new TtlCache(),
    memoryLimiter: new MemoryRateLimiter(),
  };
}

/** How often the Node process writes accumulated usage counters. */
const USAGE_FLUSH_MS = 5_000;
/** Distinct (tenant, day, kind) keys held while the control plane is unreachable. */
const USAGE_MAX_KEYS = 50_000;

/** Usage counts per (tenant, UTC day, kind), written as one upsert per flush. */
class UsageBuffer implements UsageRecorder {
  private counts = new Map<string, UsageCount>();
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly write: (counts: UsageCount[]) => Promise<void>,
    private readonly log: Logger,
  ) {}

  record(tenantId: string, kinds: readonly UsageKind[]): void {
    const day = new Date().toISOString().slice(0, 10);
    for (const kind of kinds) this.add({ tenantId, day, kind, count: 1 });
  }

  async flush(): Promise<void> {
    // One write at a time: a slow control plane must not pile up writers.
    while (this.flushing) await this.flushing;
    if (this.counts.size === 0) return;
    const batch = [...this.counts.values()];
    this.counts = new Map();
    this.flushing = this.write(batch)
      .catch((err: unknown) => {
        // Keep the counts for the next flush rather than lose them.
        for (const c of batch) this.add(c);
        this.log.count('usage_flush_failed');
        this.log.warn('api usage not written; will retry', { error: (err as Error).message });
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  private add(c: UsageCount): void {
    const key = `${c.tenantId}|${c.day}|${c.kind}`;
    const entry = this.counts.get(key);
    if (entry) entry.count += c.count;
    else if (this.counts.size < USAGE_MAX_KEYS) this.counts.set(key, { ...c });
    else this.log.count('usage_dropped');
  }
}

type Open = <S extends Record<string, unknown>>(
  url: string,
  schema: S,
  max: number,
) => Promise<DbHandle<S>>;

/**
 * Assembles Services from a way to open databases and a Redis provider. Both runtimes use
 * it; they differ only in drivers and in how long the connections live.
 */
export async function assembleServices(
  state: LongLived,
  runtime: Services['runtime'],
  open: Open,
  redis: RedisProvider,
  clientIp: (c: Context<AppEnv>) => string,
): Promise<Services & { handles: Map<string, Promise<DbHandle<Record<string, unknown>>>> }> {
  const { config, log } = state;
  const handles = new Map<string, Promise<DbHandle<Record<string, unknown>>>>();
  const cached = <S extends Record<string, unknown>>(
    key: string,
    url: () => Promise<string>,
    schema: S,
    max: number,
  ) => {
    let h = handles.get(key) as Promise<DbHandle<S>> | undefined;
    if (!h) {
      h = url().then((u) => open(u, schema, max));
      // A failed open must not be cached: the next request retries.
      h.catch(() => handles.delete(key));
      handles.set(key, h as Promise<DbHandle<Record<string, unknown>>>);
    }
    return h.then((x) => x.db);
  };
  const controlDb = () =>
    cached('control', async () => config.db.DATABASE_URL, controlSchema, 4) as Promise<ControlDb>;
  const control = new ControlPlane({
    open: controlDb,
    platformDomain: config.PLATFORM_DOMAIN,
    secretKey: config.db.BRANCH_SECRET_KEY,
    hostCache: state.hostCache,
    branchCache: state.branchCache,
    ttlMs: config.TENANT_CACHE_TTL_MS,
    negativeTtlMs: config.TENANT_NEGATIVE_CACHE_TTL_MS,
    statusCache: state.statusCache,
    statusTtlMs: config.TENANT_STATUS_TTL_MS,
  });
  const usage = new UsageBuffer((counts) => controlDb().then((db) => addUsage(db, counts)), log);
  // On Node one set of services lives for the process: flush on a timer (and on dispose).
  // On workerd a set lives for one request, and dispose (in waitUntil) flushes it.
  const timer = runtime === 'node' ? setInterval(() => void usage.flush(), USAGE_FLUSH_MS) : null;
  timer?.unref();
  return {
    config,
    runtime,
    log,
    control,
    platform: async () => ({
      control: await controlDb(),
      open,
      provisioner: provisionerFor(config.db, open),
      secretKey: config.db.BRANCH_SECRET_KEY,
    }),
    forgetTenantHosts: () => control.forgetHosts(),
    usage,
    keys: await state.keys,
    branchDb: (branchId) =>
      cached(
        `branch:${branchId}`,
        () => control.branchUrl(branchId),
        tenantSchema,
        10,
      ) as Promise<TenantDb>,
    limiter: new RedisRateLimiter(redis, state.memoryLimiter, log),
    queue: bullRefreshQueue(redis, {
      queueName: config.METRICS_QUEUE,
      debounceMs: config.REFRESH_DEBOUNCE_MS,
      log,
    }),
    mail: bullMailQueue(redis, { queueName: config.MAIL_QUEUE, log }),
    clientIp,
    handles,
    async dispose() {
      if (timer) clearInterval(timer);
      await usage.flush();
      const all = [...handles.values()];
      handles.clear();
      await Promise.allSettled(all.map((h) => h.then((x) => x.close())));
      await redis.close();
    },
  };
}

export type { DbOptions };
