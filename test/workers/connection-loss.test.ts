import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REFRESH_JOB, refreshJobOptions } from '../../workers/contract.js';
import { buildWorld, rng } from '../analytics/dataset.js';
import {
  createAnalyticsWorld,
  type AnalyticsWorld,
  type TenantFixture,
} from '../analytics/world.js';
import { spawnTsx, testQueue, waitFor, workerEnv } from './support.js';

// A worker whose database connections are terminated mid-refresh (pg_terminate_backend on
// every backend of its environment: the extract's, the branch pool's, the control plane's)
// fails that attempt retryably, stays up, and completes the job on a later attempt.
const CHILD = join(import.meta.dirname, 'worker-child.ts');

let w: AnalyticsWorld;
let alpha: TenantFixture;

beforeAll(async () => {
  w = await createAnalyticsWorld('wlost');
  alpha = await w.tenant('alpha');
  await buildWorld(alpha, rng(5));
});
afterAll(async () => {
  await w?.close();
});

it('a refresh whose connections are terminated fails retryably; the worker stays up and completes the job', async () => {
  const q = testQueue();
  const child = spawnTsx(CHILD, [], {
    ...workerEnv(w.t, q, join(w.dir, 'wh-lost'), { LOG_LEVEL: 'info' }),
    HOLD_AFTER_TABLE: 'students',
    HOLD_MS: '1000',
  });
  try {
    await child.waitForLine(/"msg":"worker started"/);
    const job = await q.queue.add(
      REFRESH_JOB,
      { tenantId: alpha.id, mode: 'full' },
      refreshJobOptions(alpha.id, 0, 'full'),
    );
    await child.waitForLine(/holding after students/);
    const r = await w.admin.query<{ ok: boolean }>(
      `select pg_terminate_backend(pid) ok from pg_stat_activity
        where (datname = $1 or datname like $2) and pid <> pg_backend_pid()`,
      [w.t.prefix, `${w.t.prefix}\\_%`],
    );
    expect(r.rows.some((row) => row.ok)).toBe(true);
    await waitFor(
      'the job to complete',
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`worker exited:\n${child.output.join('\n')}`);
        }
        return (await q.queue.getJob(job.id!))?.getState().then((s) => s === 'completed');
      },
      60_000,
    );
    const failed = child.output.find((l) => /"msg":"job.failed"/.test(l));
    expect(failed, child.output.join('\n')).toMatch(/"unrecoverable":false/);
    expect(child.exitCode).toBeNull();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await q.cleanup();
  }
}, 120_000);
