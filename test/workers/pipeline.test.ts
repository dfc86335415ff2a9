import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES, type LeadFunnelPayload } from '../../analytics/metrics/types.js';
import { WAREHOUSE_TABLES } from '../../analytics/tables.js';
import { createLogger as createApiLogger } from '../../db/log.js';
import { bullRefreshQueue } from '../../api/queue.js';
import { sharedRedis } from '../../api/redis.js';
import { setTenantStatus } from '../../db/platform.js';
import {
  REFRESH_JOB,
  refreshJobOptions,
  type RefreshJobData,
  type RefreshJobResult,
  type RefreshMode,
} from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { startWorker, type WorkerHandle } from '../../workers/main.js';
import { sweepTenants } from '../../workers/processors/sweep.js';
import {
  FULL_REBUILD_SCHEDULER_ID,
  SWEEP_SCHEDULER_ID,
  upsertSchedulers,
} from '../../workers/scheduler.js';
import { buildWorld, insertMany, rng } from '../analytics/dataset.js';
import {
  createAnalyticsWorld,
  type AnalyticsWorld,
  type TenantFixture,
} from '../analytics/world.js';
import {
  publishedSnapshots,
  recordingLogger,
  REDIS_URL,
  scanKeys,
  testQueue,
  waitFor,
  workerConfig,
  type TestQueue,
} from './support.js';

// The worker against real PostgreSQL, Redis and DuckDB: jobs (docs/architecture.md#background-path)
// and payloads (docs/tenancy-and-security.md#what-never-leaves-the-branch).
let w: AnalyticsWorld;
let alpha: TenantFixture;
let beta: TenantFixture;
let gamma: TenantFixture;

beforeAll(async () => {
  w = await createAnalyticsWorld('workers');
  alpha = await w.tenant('alpha');
  beta = await w.tenant('beta');
  gamma = await w.tenant('gamma');
  await buildWorld(alpha, rng(7));
  await buildWorld(beta, rng(3));
  await setTenantStatus(w.t.env, { slug: 'gamma', status: 'suspended', actor: 'test' });
});
afterAll(async () => w?.close());

/** Runs `fn` with a started worker on a fresh queue, then closes and cleans everything. */
async function withWorker(
  q: TestQueue,
  fn: (handle: WorkerHandle, log: ReturnType<typeof recordingLogger>) => Promise<void>,
  overrides: Record<string, string> = {},
): Promise<void> {
  const log = recordingLogger();
  const handle = await startWorker(workerConfig(w.t, q, join(w.dir, `wh-${q.name}`), overrides), {
    log,
  });
  try {
    await fn(handle, log);
  } finally {
    await handle.close();
    await q.cleanup();
  }
}

const leadNow = (tag: string) => ({
  guardian_name: `Guardian ${tag}`,
  email: `${tag}@example.org`,
  stage: 'inquiry',
  first_touch_at: new Date().toISOString(),
});

function funnelLeads(snapshots: Awaited<ReturnType<typeof publishedSnapshots>>): number {
  const s = snapshots.get('lead_funnel|tenant||last_30_days');
  if (!s) throw new Error('no tenant lead funnel for the last 30 days');
  return (s.payload as LeadFunnelPayload).leads;
}

describe('the metrics worker', () => {
  it('processes a refresh enqueued by the API producer and publishes the snapshots into the branch', async () => {
    // The API's producer has no prefix option: BullMQ's default, on this test's own queue name.
    const q = testQueue(REDIS_URL, 'bull');
    await withWorker(q, async (_handle, log) => {
      const apiLog = createApiLogger('error');
      const redis = sharedRedis(REDIS_URL, apiLog);
      const producer = bullRefreshQueue(redis, { queueName: q.name, debounceMs: 100, log: apiLog });
      try {
        await waitFor('the API redis client', () => redis.get());
        expect(await producer.enqueueRefresh(alpha.id)).toBe(true);
        const first = await waitFor('a completed refresh', async () => {
          const [job] = await q.queue.getJobs(['completed']);
          return job?.returnvalue as RefreshJobResult | undefined;
        });
        expect(first.tenantId).toBe(alpha.id);
        expect(first.mode).toBe('full'); // the first run of a tenant is always full
        expect(first.rowsPerTable.students).toEqual({ extracted: 30, removed: 0, total: 30 });
        expect(Object.keys(first.rowsPerTable).sort()).toEqual(
          WAREHOUSE_TABLES.map((t) => t.name).sort(),
        );

        const published = await publishedSnapshots(w.admin, alpha.id);
        expect(published.size).toBe(first.snapshots);
        expect(first.published.upserted).toBe(first.snapshots);
        expect(new Set([...published.values()].map((s) => s.runId))).toEqual(
          new Set([first.runId]),
        );
        expect(new Set([...published.keys()].map((k) => k.split('|')[0]))).toEqual(
          new Set(METRIC_NAMES),
        );
        expect([...published.values()][0]!.asOf.toISOString()).toBe(
          new Date(first.dataAsOf).toISOString(),
        );
        expect(
          log.lines.some((l) => l.msg === 'refresh.published' && l.tenant_id === alpha.id),
        ).toBe(true);

        // A burst of writes coalesces into one more (incremental) refresh that sees them all.
        const before = funnelLeads(published);
        for (let i = 0; i < 5; i++) {
          await insertMany(w.admin, alpha.id, 'leads', [
            leadNow(`burst${i}.${randomUUID().slice(0, 6)}`),
          ]);
          expect(await producer.enqueueRefresh(alpha.id)).toBe(true);
        }
        await waitFor('the second refresh', async () => (await q.queue.getCompletedCount()) >= 2);
        await new Promise((r) => setTimeout(r, 500));
        const jobs = await q.queue.getJobs(['completed', 'active', 'waiting', 'delayed']);
        expect(jobs).toHaveLength(2);
        const second = (await q.queue.getJobs(['completed']))
          .map((j) => j.returnvalue as RefreshJobResult)
          .find((r) => r.runId !== first.runId)!;
        expect(second.mode).toBe('incremental');
        expect(second.rowsPerTable.leads!.extracted).toBe(5);
        expect(funnelLeads(await publishedSnapshots(w.admin, alpha.id))).toBe(before + 5);
      } finally {
        await producer.close();
        await redis.close();
      }
    });
  });

  it('fails malformed jobs and jobs of unknown or suspended tenants at once, without retries', async () => {
    const q = testQueue();
    await withWorker(q, async (_handle, log) => {
      const { deduplication: _ignored, ...retrying } = refreshJobOptions(alpha.id, 0);
      const bad: [string, unknown, RegExp][] = [
        [REFRESH_JOB, { tenantId: 'not-a-uuid', mode: 'incremental' }, /tenantId must be a UUID/],
        [REFRESH_JOB, { tenantId: randomUUID(), mode: 'incremental' }, /unknown tenant/],
        [REFRESH_JOB, { tenantId: alpha.id, mode: 'sideways' }, /mode must be/],
        [
          REFRESH_JOB,
          { tenantId: alpha.id, mode: 'full', email: 'x@example.org' },
          /only tenantId and mode/,
        ],
        [REFRESH_JOB, null, /must be an object/],
        [REFRESH_JOB, { tenantId: gamma.id, mode: 'incremental' }, /is suspended/],
        ['explode', { tenantId: alpha.id, mode: 'full' }, /unknown job name/],
      ];
      const ids: string[] = [];
      for (const [name, data, _] of bad) {
        const job = await q.queue.add(name, data as never, retrying);
        ids.push(job.id!);
      }
      await waitFor(
        'every bad job to fail',
        async () => (await q.queue.getFailedCount()) === bad.length,
      );
      for (const [i, [, , reason]] of bad.entries()) {
        const job = (await q.queue.getJob(ids[i]!))!;
        expect(await job.getState()).toBe('failed');
        expect(job.attemptsMade, job.failedReason).toBe(1);
        expect(job.failedReason).toMatch(reason);
      }
      expect(await q.queue.getDelayedCount()).toBe(0);
      expect(log.counters.get('job_refused')).toBe(bad.length);
    });
  });

  it('never runs two refreshes of one tenant at once, while two tenants refresh in parallel', async () => {
    const q = testQueue();
    // Two worker "processes" (own Redis connections, own in-process lock sets) on one queue,
    // two slots each; every refresh is held open for a while after its first table.
    const hold = async (table: string) => {
      if (table === WAREHOUSE_TABLES[0]!.name) await new Promise((r) => setTimeout(r, 800));
    };
    const dir = join(w.dir, `wh-${q.name}`);
    const logs = [recordingLogger(), recordingLogger()];
    const handles = [
      await startWorker(workerConfig(w.t, q, dir), { log: logs[0], afterTable: hold }),
      await startWorker(workerConfig(w.t, q, dir), { log: logs[1], afterTable: hold }),
    ];
    try {
      // Two dedup ids per tenant (incremental and full): the queue alone would run them together.
      for (const t of [alpha, beta]) {
        for (const mode of ['incremental', 'full'] as RefreshMode[]) {
          await q.queue.add(
            REFRESH_JOB,
            { tenantId: t.id, mode },
            refreshJobOptions(t.id, 0, mode),
          );
        }
      }
      await waitFor(
        'four refreshes',
        async () => (await q.queue.getCompletedCount()) === 4,
        40_000,
      );
      // Every warehouse run, failed ones included, from the workers' structured logs.
      const lines = logs.flatMap((l) => l.lines);
      const runs = lines
        .filter((l) => l.msg === 'refresh.start')
        .map((start) => {
          const end = lines.find(
            (l) =>
              (l.msg === 'refresh.done' || l.msg === 'refresh.failed') && l.run_id === start.run_id,
          );
          return {
            tenantId: start.tenant_id as string,
            from: Date.parse(start.time as string),
            to: end ? Date.parse(end.time as string) : Infinity,
          };
        });
      type Run = (typeof runs)[number];
      const overlap = (a: Run, b: Run) => a.from < b.to && b.from < a.to;
      const of = (t: TenantFixture) => runs.filter((r) => r.tenantId === t.id);
      for (const t of [alpha, beta]) {
        const [x, y, ...more] = of(t);
        expect(more).toEqual([]);
        expect(overlap(x!, y!), `two refreshes of ${t.id} overlapped`).toBe(false);
      }
      expect(of(alpha).some((a) => of(beta).some((b) => overlap(a, b)))).toBe(true);
      // The clash was seen and deferred: not failed, no attempt spent.
      const deferred = logs.reduce((n, l) => n + (l.counters.get('refresh_deferred') ?? 0), 0);
      expect(deferred).toBeGreaterThan(0);
      expect(await q.queue.getFailedCount()).toBe(0);
      for (const job of await q.queue.getJobs(['completed'])) expect(job.attemptsMade).toBe(1);
    } finally {
      for (const h of handles) await h.close();
      await q.cleanup();
    }
  });

  it('keeps direct identifiers out of Redis: payloads, results and events hold ids and counts only', async () => {
    // Distinctive personal data in the branch, which the refresh reads.
    const planted = [
      'Ophelia Marchbanks',
      'ophelia.marchbanks@example.org',
      'Zebulon',
      'Quixotic',
      '+1-555-0199',
    ];
    await insertMany(w.admin, beta.id, 'leads', [
      {
        guardian_name: planted[0],
        email: planted[1],
        phone: planted[4],
        stage: 'inquiry',
        first_touch_at: new Date().toISOString(),
      },
    ]);
    const school = await w.admin.query<{ id: string }>(
      `select id from org_units where tenant_id = $1 and kind = 'school' limit 1`,
      [beta.id],
    );
    await insertMany(w.admin, beta.id, 'students', [
      {
        student_number: 'ZQ1',
        first_name: planted[2],
        last_name: planted[3],
        grade_level: '3',
        school_id: school.rows[0]!.id,
      },
    ]);
    const q = testQueue();
    await withWorker(q, async () => {
      await q.queue.add(
        REFRESH_JOB,
        { tenantId: beta.id, mode: 'full' },
        refreshJobOptions(beta.id, 0, 'full'),
      );
      await q.queue.add(
        REFRESH_JOB,
        { tenantId: gamma.id, mode: 'incremental' },
        refreshJobOptions(gamma.id, 0),
      );
      await waitFor(
        'both jobs to finish',
        async () =>
          (await q.queue.getCompletedCount()) === 1 && (await q.queue.getFailedCount()) === 1,
      );
      const r = new Redis(REDIS_URL);
      try {
        const keys = await scanKeys(r, `${q.prefix}:${q.name}:*`);
        expect(keys.length).toBeGreaterThan(3);
        let text = '';
        let payloads = 0;
        for (const key of keys) {
          const type = await r.type(key);
          if (type === 'hash') {
            const h = await r.hgetall(key);
            text += JSON.stringify(h);
            if (h.name === REFRESH_JOB && h.data) {
              payloads++;
              expect(Object.keys(JSON.parse(h.data) as object).sort()).toEqual([
                'mode',
                'tenantId',
              ]);
            }
          } else if (type === 'string') text += await r.get(key);
          else if (type === 'list') text += (await r.lrange(key, 0, -1)).join(' ');
          else if (type === 'zset') text += (await r.zrange(key, 0, -1)).join(' ');
          else if (type === 'set') text += (await r.smembers(key)).join(' ');
          else if (type === 'stream') text += JSON.stringify(await r.xrange(key, '-', '+'));
        }
        expect(payloads).toBe(2);
        expect(text).toContain(beta.id); // the scan did read the jobs
        for (const p of planted) expect(text).not.toContain(p);
      } finally {
        r.disconnect();
      }
    });
  });

  it('upserts the schedulers idempotently and sweeps every active tenant, coalescing with pending refreshes', async () => {
    const q = testQueue();
    const directory = new ControlPlane(w.t.env);
    try {
      const schedule = { intervalMs: 15 * 60_000, fullRebuildCron: '0 3 * * *' };
      await upsertSchedulers(q.queue, schedule);
      await upsertSchedulers(q.queue, schedule); // a second worker process starting
      const schedulers = await q.queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual(
        [FULL_REBUILD_SCHEDULER_ID, SWEEP_SCHEDULER_ID].sort(),
      );
      const nightly = schedulers.find((s) => s.key === FULL_REBUILD_SCHEDULER_ID)!;
      expect(nightly).toMatchObject({ pattern: '0 3 * * *', tz: 'UTC' });
      expect(new Date(nightly.next!).toISOString()).toMatch(/T03:00:00\.000Z$/);
      expect(schedulers.find((s) => s.key === SWEEP_SCHEDULER_ID)!.every).toBe(15 * 60_000);

      // An API-triggered refresh of alpha is pending (debouncing) when the sweep runs.
      await q.queue.add(
        REFRESH_JOB,
        { tenantId: alpha.id, mode: 'incremental' },
        refreshJobOptions(alpha.id, 5_000),
      );
      const log = createApiLogger('error');
      const swept = await sweepTenants({ directory, queue: q.queue, log }, 'incremental');
      const active = await directory.activeTenants();
      expect(active.map((t) => t.id)).not.toContain(gamma.id);
      expect(swept.tenants).toBe(active.length);
      const refreshes = (await q.queue.getJobs(['waiting', 'delayed', 'prioritized'])).filter(
        (j) => j.name === REFRESH_JOB,
      );
      expect(refreshes.map((j) => (j.data as RefreshJobData).tenantId).sort()).toEqual(
        active.map((t) => t.id).sort(),
      );
    } finally {
      await directory.close();
      await q.cleanup();
    }
  });
});
