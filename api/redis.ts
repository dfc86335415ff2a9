import { Redis } from 'ioredis';
import type { Logger } from '../db/log.js';

/**
 * Redis for the API: rate limits and enqueueing. The API never waits for Redis: commands
 * fail at once while it is unreachable (no offline queue) and callers fall back.
 */
export interface RedisProvider {
  /** A connected client, or null when Redis is unreachable right now. */
  get(): Promise<Redis | null>;
  close(): Promise<void>;
}

const common = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  commandTimeout: 1_000,
} as const;

/** One shared client for the process (Node), reconnecting in the background. */
export function sharedRedis(url: string | undefined, log: Logger): RedisProvider {
  if (!url) return { get: async () => null, close: async () => {} };
  const client = new Redis(url, {
    ...common,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
  });
  let lastError = 0;
  client.on('error', (err: Error) => {
    // Throttled: a stopped Redis would otherwise log on every reconnect attempt.
    if (Date.now() - lastError > 10_000) log.warn('redis unavailable', { error: err.message });
    lastError = Date.now();
  });
  return {
    get: async () => (client.status === 'ready' ? client : null),
    close: async () => {
      client.disconnect();
    },
  };
}

/** A client per request (workerd: sockets may not outlive the request that opened them). */
export function requestRedis(url: string | undefined, log: Logger): RedisProvider {
  let client: Redis | null = null;
  let pending: Promise<Redis | null> | null = null;
  return {
    get() {
      if (!url) return Promise.resolve(null);
      pending ??= (async () => {
        const c = new Redis(url, { ...common, lazyConnect: true, retryStrategy: () => null });
        c.on('error', () => {});
        try {
          await c.connect();
          client = c;
          return c;
        } catch (err) {
          log.warn('redis unavailable', { error: (err as Error).message });
          c.disconnect();
          return null;
        }
      })();
      return pending;
    },
    async close() {
      if (client) await client.quit().catch(() => client?.disconnect());
    },
  };
}
