import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createDb } from '../../db/connection-node.js';
import type { AppEnv } from '../app-env.js';
import type { ApiConfig } from '../env.js';
import { createLogger } from '../log.js';
import { MemoryRateLimiter } from '../middleware/rate-limit.js';
import type { RefreshQueue } from '../queue.js';
import { sharedRedis } from '../redis.js';
import type { Services } from '../services.js';
import { assembleServices, longLived } from './shared.js';

export interface NodeServicesOptions {
  /** Where post-commit refreshes go instead of BullMQ (the demo's in-process runner). */
  queue?: RefreshQueue;
}

/**
 * Services for the API on Node: one set for the process, a `pg` pool per branch, one
 * Redis client. `close()` ends them all (graceful shutdown, tests).
 */
export async function createNodeServices(
  config: ApiConfig,
  options: NodeServicesOptions = {},
): Promise<{ services: Services; close(): Promise<void> }> {
  const log = createLogger(config.LOG_LEVEL, { runtime: 'node' });
  const redis = sharedRedis(config.REDIS_URL, log);
  const assembled = await assembleServices(
    longLived(config, log),
    'node',
    (url, schema, max) => createDb({ driver: 'pg', url, schema, max }),
    redis,
    (c: Context<AppEnv>) => clientIp(c, config.TRUST_FORWARDED_HEADERS),
  );
  // On Node the pools live for the process; per-request dispose would throw them away.
  const services: Services = {
    ...assembled,
    // Without Redis this process is the only instance: its own windows are the limits.
    limiter: config.REDIS_URL ? assembled.limiter : new MemoryRateLimiter(),
    queue: options.queue ?? assembled.queue,
    dispose: async () => {},
  };
  return { services, close: () => assembled.dispose() };
}

function clientIp(c: Context<AppEnv>, trustForwarded: boolean): string {
  if (trustForwarded) {
    const xff = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (xff) return xff;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
