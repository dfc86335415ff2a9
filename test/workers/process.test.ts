import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnySnapshot } from '../../analytics/metrics/types.js';
import { refreshTenant } from '../../analytics/refresh.js';
import { openWarehouse } from '../../analytics/warehouse.js';
import { refreshRuns, warehouseState } from '../../analytics/warehouse/run-log.js';
import { REFRESH_JOB, refreshJobOptions, type RefreshJobResult } from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { localLocks } from '../../workers/locks.js';
import { runRefresh } from '../../workers/processors/refresh.js';
import { buildWorld, mutate, rng, type World } from '../analytics/dataset.js';
import {
  createAnalyticsWorld,
  type AnalyticsWorld,
  type TenantFixture,
} from '../analytics/world.js';
import {
  figuresDiffer,
  publishedSnapshots,
  recordingLogger,
  spawnTsx,
  testQueue,
  waitFor,
  workerEnv,
  type TestQueue,
} from './support.js';

// The worker as an operating-system process: SIGTERM lets the active refresh finish; `kill -9`
// mid-refresh leaves the warehouse as it was and the next worker completes the job with correct
// figures (workers/README.md#one-refresh-per-tenant); `npm run refresh` runs the same code.
const CHILD = join(import.meta.dirname, 'worker-child.ts');
const CLI = join(import.meta.dirname, '..', '..', 'scripts', 'refresh.ts');

let w: AnalyticsWorld;
let alpha: TenantFixture;
let delta: TenantFixture;
let deltaWorld: World;
let directory: ControlPlane;

beforeAll(async () => {
  w = await createAnalyticsWorld('wproc');
  alpha = await w.tenant('alpha');
  delta = await w.tenant('delta');
  await buildWorld(alpha, rng(7));
  deltaWorld = await buildWorld(delta, rng(3));
  directory = new ControlPlane(w.t.env);
});
afterAll(async () => {
  await directory?.close();
  await w?.close();
});

const key = (s: AnySnapshot) => `${s.metric}|${s.scopeKind}|${s.scopeId ?? ''}|${s.period}`;

/** A worker child on `q`, logging at info level. */
function worker(q: TestQueue, dir: string, env: Record<string, string> = {}) {
  return spawnTsx(CHILD, [], { ...workerEnv(w.t, q, dir, { LOG_LEVEL: 'info' }), ...env });
}

// Each test starts worker processes through tsx: under a busy machine that alone takes seconds.
describe('the worker process', { timeout: 90_000 }, () => {
  it('on SIGTERM stops taking jobs, lets the active refresh finish and publish, then exits 0', async () => {
    const q = testQueue();
    const dir = join(w.dir, 'wh-sigterm');
    const child = worker(q, dir, { HOLD_AFTER_TABLE: 'students', HOLD_MS: '1500' });
    try {
      await child.waitForLine(/"msg":"worker started"/);
      const job = await q.queue.add(
        REFRESH_JOB,
        { tenantId: alpha.id, mode: 'full' },
        refreshJobOptions(alpha.id, 0, 'full'),
      );
      await child.waitForLine(/holding after students/);
      child.kill('SIGTERM');
      await child.waitForLine(/"msg":"shutting down/);
      // Added while shutting down: must stay waiting for the next worker.
      const late = await q.queue.add(
        REFRESH_JOB,
        { tenantId: delta.id, mode: 'full' },
        refreshJobOptions(delta.id, 0, 'full'),
      );
      expect(await child.exited).toBe(0);

      const done = (await q.queue.getJob(job.id!))!;
      expect(await done.getState()).toBe('completed');
      const result = done.returnvalue as RefreshJobResult;
      const published = await publishedSnapshots(w.admin, alpha.id);
      expect(published.size).toBe(result.snapshots);
      expect(new Set([...published.values()].map((s) => s.runId))).toEqual(new Set([result.runId]));
      expect(await (await q.queue.getJob(late.id!))!.getState()).toBe('waiting');

      const at = (re: RegExp) => child.output.findIndex((l) => re.test(l));
      expect(at(/"msg":"shutting down/)).toBeGreaterThan(at(/holding after students/));
      expect(at(/"msg":"refresh.published"/)).toBeGreaterThan(at(/"msg":"shutting down/));
      expect(at(/"msg":"worker stopped"/)).toBeGreaterThan(at(/"msg":"refresh.published"/));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await q.cleanup();
    }
  });

  it('killed with SIGKILL mid-refresh leaves the warehouse as it was; the next worker completes the job with the figures of a full rebuild', async () => {
    const dir = join(w.dir, 'wh-kill');
    const log = recordingLogger();
    const deps = { directory, locks: localLocks(), warehouseDir: dir, log };
    const first = await runRefresh(deps, { tenantId: delta.id, mode: 'full' });
    await mutate(delta, rng(11), deltaWorld, 1);

    const q = testQueue();
    // Short BullMQ and tenant locks so that the dead worker's job is taken over quickly.
    const fast = {
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '500',
      TENANT_LOCK_TTL_MS: '2000',
    };
    const doomed = worker(q, dir, {
      ...fast,
      HOLD_AFTER_TABLE: 'attendance_records',
      HOLD_MS: 'forever',
    });
    let next: ReturnType<typeof worker> | undefined;
    try {
      await doomed.waitForLine(/"msg":"worker started"/);
      const job = await q.queue.add(
        REFRESH_JOB,
        { tenantId: delta.id, mode: 'incremental' },
        refreshJobOptions(delta.id, 0),
      );
      await doomed.waitForLine(/holding after attendance_records/);
      doomed.kill('SIGKILL');
      await doomed.exited;

      // Consistent: the previous watermark, tables and snapshots; the run is left `running`.
      const wh = await openWarehouse({ dir, tenantId: delta.id });
      try {
        expect((await warehouseState(wh)).watermark).toBe(first.watermarkAfter);
        const [killed] = await refreshRuns(wh, 1);
        expect(killed).toMatchObject({ status: 'running', watermarkBefore: first.watermarkAfter });
        const [students] = await wh.rows<{ n: bigint }>(`SELECT count(*) AS n FROM students`);
        expect(Number(students!.n)).toBe(first.rowsPerTable.students!.total);
        const runs = await wh.rows<{ run_id: string }>(
          `SELECT DISTINCT run_id::VARCHAR AS run_id FROM metric_snapshots`,
        );
        expect(runs).toEqual([{ run_id: first.runId }]);
      } finally {
        await wh.close();
      }
      const stale = await publishedSnapshots(w.admin, delta.id);
      expect(new Set([...stale.values()].map((s) => s.runId))).toEqual(new Set([first.runId]));

      next = worker(q, dir, fast);
      const result = await waitFor(
        'the stalled job to complete on the next worker',
        async () => {
          const j = await q.queue.getJob(job.id!);
          return (await j?.getState()) === 'completed' && (j!.returnvalue as RefreshJobResult);
        },
        30_000,
        200,
      );
      next.kill('SIGTERM');
      expect(await next.exited).toBe(0);
      expect(result.mode).toBe('incremental');
      expect(result.watermarkBefore).toBe(first.watermarkAfter);
      expect(
        Object.values(result.rowsPerTable).reduce((n, c) => n + c.extracted + c.removed, 0),
      ).toBeGreaterThan(0);

      // Correct figures: exactly what a full rebuild of the same data computes.
      const tenant = (await directory.tenant(delta.id))!;
      const full = await refreshTenant({
        tenantId: delta.id,
        branchUrl: delta.appUrl,
        warehouseDir: join(w.dir, 'wh-kill-reference'),
        mode: 'full',
        asOf: result.asOf,
        timezone: tenant.timezone,
      });
      const published = await publishedSnapshots(w.admin, delta.id);
      expect([...published.keys()].sort()).toEqual(full.snapshots.map(key).sort());
      for (const s of full.snapshots) {
        expect(figuresDiffer(published.get(key(s))!.payload, s.payload), key(s)).toBeNull();
      }
      // Rows whose payload the new run changed carry its id; the others are untouched.
      for (const [k, s] of published) {
        const old = stale.get(k);
        if (s.runId === first.runId) expect(s.payload, k).toEqual(old!.payload);
        else {
          expect(s.runId, k).toBe(result.runId);
          expect(s.payload, k).not.toEqual(old?.payload);
        }
      }
      expect([...published.values()].some((s) => s.runId === result.runId)).toBe(true);

      const wh2 = await openWarehouse({ dir, tenantId: delta.id });
      try {
        const statuses = (await refreshRuns(wh2, 3)).map((r) => r.status);
        expect(statuses).toEqual(['succeeded', 'abandoned', 'succeeded']);
      } finally {
        await wh2.close();
      }
    } finally {
      if (doomed.exitCode === null && doomed.signalCode === null) doomed.kill('SIGKILL');
      if (next && next.exitCode === null && next.signalCode === null) next.kill('SIGKILL');
      await q.cleanup();
    }
  });

  it('npm run refresh runs the same refresh in-process and prints rows, watermark, duration and snapshots', async () => {
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: w.t.env.DATABASE_URL,
      WAREHOUSE_DIR: join(w.dir, 'wh-cli'),
      DUCKDB_THREADS: '1',
      REDIS_URL: 'redis://127.0.0.1:1', // never contacted
    };
    const cli = spawnTsx(CLI, ['--tenant', 'alpha', '--full'], env);
    expect(await cli.exited, cli.output.join('\n')).toBe(0);
    const out = cli.output.join('\n');
    expect(out).toMatch(
      new RegExp(`refreshed alpha \\(${alpha.id}\\): full, metrics as of \\d{4}-\\d{2}-\\d{2}`),
    );
    expect(out).toMatch(/^\s+students\s+30\s+0\s+30$/m);
    expect(out).toMatch(/^watermark: \(none: first run\) → \d+:\d+:/m);
    expect(out).toMatch(/^duration: \d+ ms \(extract \d+ ms/m);
    const published = await publishedSnapshots(w.admin, alpha.id);
    expect(out).toContain(`snapshots published: ${published.size} (${published.size} upserted`);

    const missing = spawnTsx(CLI, ['--tenant', 'nobody'], env);
    expect(await missing.exited).toBe(1);
    expect(missing.output.join('\n')).toContain('error: no tenant "nobody"');
  });
});
