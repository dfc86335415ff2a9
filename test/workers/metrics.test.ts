import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_JOB } from '../../workers/contract.js';
import { startWorker, type WorkerHandle } from '../../workers/main.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';
import { recordingLogger, testQueue, waitFor, workerConfig, type TestQueue } from './support.js';

// The worker process's counters, scraped from its WORKER_METRICS_PORT listener.
let t: TestEnvironment;
let q: TestQueue;
let dir: string;
let handle: WorkerHandle;

beforeAll(async () => {
  t = await createTestEnvironment('wmetrics');
  q = testQueue();
  dir = await mkdtemp(join(tmpdir(), 'wmetrics-'));
  handle = await startWorker(workerConfig(t, q, join(dir, 'wh'), { WORKER_METRICS_PORT: '0' }), {
    log: recordingLogger('warn'),
  });
}, 120_000);

afterAll(async () => {
  await handle?.close();
  await q?.cleanup();
  await t?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const scrape = async (path = '/metrics') => {
  const r = await fetch(`http://127.0.0.1:${handle.metricsPort}${path}`);
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
};

const sample = (text: string, name: string) =>
  Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('worker metrics listener', () => {
  it('answers GET /metrics with the refresh outcome counters in the Prometheus text format', async () => {
    const r = await scrape();
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const line of r.text.trimEnd().split('\n')) {
      expect(line).toMatch(
        /^(# HELP [a-z_]+ .+|# TYPE [a-z_]+ counter|homeroom_[a-z_]+_total \d+)$/,
      );
    }
    expect(sample(r.text, 'homeroom_jobs_refused_total')).toBe(0);
    expect(sample(r.text, 'homeroom_jobs_completed_total')).toBe(0);
    expect((await scrape('/other')).status).toBe(404);
  });

  it('counts a refused job', async () => {
    await q.queue.add(REFRESH_JOB, { tenantId: 'not-a-uuid', mode: 'incremental' } as never);
    await waitFor('the refused job to be counted', async () =>
      sample((await scrape()).text, 'homeroom_jobs_refused_total') === 1 ? true : null,
    );
  });

  it('is off unless WORKER_METRICS_PORT is set', () => {
    expect(workerConfig(t, q, dir).WORKER_METRICS_PORT).toBeUndefined();
  });
});
