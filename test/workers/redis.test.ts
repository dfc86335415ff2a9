import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeadFunnelPayload } from '../../analytics/metrics/types.js';
import { createLogger as createApiLogger } from '../../db/log.js';
import { bullRefreshQueue } from '../../api/queue.js';
import { sharedRedis } from '../../api/redis.js';
import { parseWorkerConfig } from '../../workers/env.js';
import { startWorker } from '../../workers/main.js';
import { evictionPolicy } from '../../workers/redis.js';
import { triggerSweep } from '../../workers/scheduler.js';
import { buildWorld, rng } from '../analytics/dataset.js';
import {
  createAnalyticsWorld,
  type AnalyticsWorld,
  type TenantFixture,
} from '../analytics/world.js';
import {
  PrivateRedis,
  publishedSnapshots,
  recordingLogger,
  testQueue,
  waitFor,
  workerConfig,
  workerEnv,
} from './support.js';

// Redis down, worker half (docs/architecture.md#background-path): workers wait for Redis; a trigger
// lost while Redis was down is caught up by the sweep; the eviction policy is checked at start.
// Every Redis here is a private redis-server on a free port (the shared one on 6379 is never
// touched).
let w: AnalyticsWorld;
let alpha: TenantFixture;
const servers: PrivateRedis[] = [];

beforeAll(async () => {
  w = await createAnalyticsWorld('wredis');
  alpha = await w.tenant('alpha');
  await buildWorld(alpha, rng(7));
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  await w?.close();
});

async function privateRedis(args: string[] = []): Promise<PrivateRedis> {
  const s = await PrivateRedis.create(args);
  servers.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function funnelLeads(): Promise<{ leads: number; runId: string }> {
  const s = (await publishedSnapshots(w.admin, alpha.id)).get('lead_funnel|tenant||last_30_days');
  return s
    ? { leads: (s.payload as LeadFunnelPayload).leads, runId: s.runId }
    : { leads: -1, runId: '' };
}

describe('Redis outages', () => {
  it('a worker waits for Redis; writes during an outage commit, the enqueue fails fast, and the sweep catches the metrics up', async () => {
    const redis = await privateRedis();
    // The API's producer uses BullMQ's default prefix; the queue name is this test's own.
    const q = testQueue(redis.url, 'bull');
    const log = recordingLogger();
    const starting = startWorker(workerConfig(w.t, q, join(w.dir, 'wh-outage')), { log });
    const apiLog = createApiLogger('error');
    const apiRedis = sharedRedis(redis.url, apiLog);
    const producer = bullRefreshQueue(apiRedis, { queueName: q.name, debounceMs: 0, log: apiLog });
    const app = new pg.Client({ connectionString: alpha.appUrl });
    await app.connect();
    let handle: Awaited<typeof starting> | undefined;
    try {
      // Started before Redis: it waits (and says so) instead of failing.
      await sleep(1_300);
      expect(log.lines.some((l) => l.msg === 'waiting for redis')).toBe(true);
      await redis.start();
      handle = await starting;

      await waitFor('the API redis client', () => apiRedis.get());
      expect(await producer.enqueueRefresh(alpha.id)).toBe(true);
      const before = await waitFor('the first refresh', async () => {
        const f = await funnelLeads();
        return f.leads >= 0 && f;
      });

      await redis.stop();
      // A write as the API makes it (app role, tenant set, one transaction) still commits…
      await app.query('begin');
      await app.query(`select set_config('app.tenant_id', $1, true)`, [alpha.id]);
      await app.query(
        `insert into leads (tenant_id, guardian_name, email, stage, first_touch_at) values ($1, 'Outage Olive', $2, 'inquiry', now())`,
        [alpha.id, `outage.${randomUUID().slice(0, 8)}@example.org`],
      );
      await app.query('commit');
      // …and the refresh trigger fails fast, logged and counted: it is lost.
      const started = performance.now();
      expect(await producer.enqueueRefresh(alpha.id)).toBe(false);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(apiLog.counters.get('enqueue_failed')).toBe(1);

      // Redis comes back empty (no persistence): the worker reconnects by itself.
      await sleep(500);
      await redis.start();
      await waitFor('the API redis client again', () => apiRedis.get());
      await sleep(1_000);
      expect((await funnelLeads()).leads).toBe(before.leads); // stale: nothing was enqueued

      await triggerSweep(q.queue, 'incremental');
      const after = await waitFor(
        'the sweep to bring the metrics up to date',
        async () => {
          const f = await funnelLeads();
          return f.leads === before.leads + 1 && f;
        },
        30_000,
        200,
      );
      expect(after.runId).not.toBe(before.runId);
    } finally {
      await app.end();
      await producer.close();
      await apiRedis.close();
      if (!handle) await redis.start().catch(() => undefined);
      await (handle ?? (await starting.catch(() => undefined)))?.close();
      await q.cleanup();
      await redis.stop();
    }
  });

  it('refuses to start in production unless maxmemory-policy is noeviction, warns in development, and reads the policy from INFO where CONFIG is disabled', async () => {
    const lru = await privateRedis(['--maxmemory-policy', 'allkeys-lru']);
    const managed = await privateRedis([
      '--maxmemory-policy',
      'allkeys-lru',
      '--rename-command',
      'CONFIG',
      '',
    ]);
    await lru.start();
    await managed.start();
    const production = (url: string) => {
      const q = testQueue(url);
      return {
        q,
        config: parseWorkerConfig({
          ...workerEnv(w.t, q, join(w.dir, 'wh-policy')),
          NODE_ENV: 'production',
          BRANCH_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
        }),
      };
    };

    const prod = production(lru.url);
    await expect(startWorker(prod.config, { log: recordingLogger() })).rejects.toThrow(
      /maxmemory-policy is allkeys-lru; the job queue needs noeviction/,
    );
    await prod.q.cleanup();

    const q = testQueue(lru.url);
    const log = recordingLogger();
    const dev = await startWorker(workerConfig(w.t, q, join(w.dir, 'wh-policy')), { log });
    await dev.close();
    await q.cleanup();
    expect(log.lines.some((l) => l.level === 'warn' && /allkeys-lru/.test(String(l.msg)))).toBe(
      true,
    );

    // Managed Redis: CONFIG renamed away, INFO still tells.
    const client = new Redis(managed.url);
    try {
      await expect(client.config('GET', 'maxmemory-policy')).rejects.toThrow(/unknown command/i);
      expect(await evictionPolicy(client)).toBe('allkeys-lru');
    } finally {
      client.disconnect();
    }
    const prodManaged = production(managed.url);
    await expect(startWorker(prodManaged.config, { log: recordingLogger() })).rejects.toThrow(
      /allkeys-lru/,
    );
    await prodManaged.q.cleanup();
  });
});
