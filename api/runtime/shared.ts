import type { Context } from 'hono';
import type { DbHandle, DbOptions } from '../../db/connection.js';
import * as controlSchema from '../../db/schema/control.js';
import * as tenantSchema from '../../db/schema/tenant.js';
import type { AppEnv } from '../app-env.js';
import { createTokenKeys, type TokenKeys } from '../auth/jwt.js';
import type { ApiConfig } from '../env.js';
import type { Logger } from '../log.js';
import { MemoryRateLimiter, RedisRateLimiter } from '../middleware/rate-limit.js';
import { bullRefreshQueue } from '../queue.js';
import type { RedisProvider } from '../redis.js';
import type { Services, TenantDb } from '../services.js';
import {
  ControlPlane,
  TtlCache,
  type ControlDb,
  type TenantContext,
} from '../tenancy/control-plane.js';

/** State that may outlive a request: caches and imported keys (no sockets). */
export interface LongLived {
  config: ApiConfig;
  log: Logger;
  keys: Promise<TokenKeys>;
  hostCache: TtlCache<TenantContext>;
  branchCache: TtlCache<string>;
  memoryLimiter: MemoryRateLimiter;
}

export function longLived(config: ApiConfig, log: Logger): LongLived {
  return {
    config,
    log,
    keys: createTokenKeys(config.signingKeys, config.JWT_ISSUER),
    hostCache: new TtlCache(),
    branchCache: new TtlCache(),
    memoryLimiter: new MemoryRateLimiter(),
  };
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
  const control = new ControlPlane({
    open: () =>
      cached('control', async () => config.db.DATABASE_URL, controlSchema, 4) as Promise<ControlDb>,
    platformDomain: config.PLATFORM_DOMAIN,
    secretKey: config.db.BRANCH_SECRET_KEY,
    hostCache: state.hostCache,
    branchCache: state.branchCache,
    ttlMs: config.TENANT_CACHE_TTL_MS,
    negativeTtlMs: config.TENANT_NEGATIVE_CACHE_TTL_MS,
  });
  return {
    config,
    runtime,
    log,
    control,
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
    clientIp,
    handles,
    async dispose() {
      const all = [...handles.values()];
      handles.clear();
      await Promise.allSettled(all.map((h) => h.then((x) => x.close())));
      await redis.close();
    },
  };
}

export type { DbOptions };
