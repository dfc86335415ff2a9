import { Redis } from 'ioredis';
import type { Logger } from '../db/log.js';

/**
 * Redis for the workers. Unlike the API's (which must never wait), the workers' connection
 * waits: `maxRetriesPerRequest: null` (BullMQ requires it for workers) keeps commands queued
 * while Redis is away and the connection retries for ever, so a worker started before Redis,
 * or across a Redis restart, simply resumes.
 */
export function workerRedis(url: string, log: Logger): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let lastError = 0;
  client.on('error', (err: Error) => {
    // Throttled: a stopped Redis would otherwise log on every reconnect attempt.
    if (Date.now() - lastError > 10_000)
      log.warn('redis unavailable; retrying', { error: err.message });
    lastError = Date.now();
  });
  return client;
}

/** Resolves once Redis answers, however long that takes (logging while it waits). */
export async function waitForRedis(client: Redis, log: Logger): Promise<void> {
  const notice = setTimeout(() => log.warn('waiting for redis'), 1_000);
  try {
    await client.ping();
  } finally {
    clearTimeout(notice);
  }
}

/**
 * The server's `maxmemory-policy`: `CONFIG GET`, or `INFO memory` where CONFIG is disabled
 * (managed Redis often renames it away); null when neither answers.
 */
export async function evictionPolicy(client: Redis): Promise<string | null> {
  try {
    const reply = (await client.config('GET', 'maxmemory-policy')) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1];
  } catch {
    // CONFIG disabled or not permitted: fall through to INFO.
  }
  try {
    const info = await client.info('memory');
    return /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * BullMQ loses jobs when Redis evicts keys: anything but `noeviction` refuses start-up in
 * production and warns elsewhere. A policy that cannot be read is warned about, not refused
 * (the operator of a managed Redis sets it in the provider's console).
 */
export async function checkEvictionPolicy(
  client: Redis,
  options: { production: boolean; log: Logger },
): Promise<string | null> {
  const policy = await evictionPolicy(client);
  if (policy === null) {
    options.log.warn(
      'redis maxmemory-policy could not be read (CONFIG and INFO refused); it must be noeviction',
    );
  } else if (policy !== 'noeviction') {
    const message = `redis maxmemory-policy is ${policy}; the job queue needs noeviction (jobs would be evicted)`;
    if (options.production) throw new Error(message);
    options.log.warn(message);
  }
  return policy;
}
