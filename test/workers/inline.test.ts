import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAREHOUSE_TABLES } from '../../analytics/tables.js';
import type { RefreshJobResult } from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { createInlineRunner } from '../../workers/inline.js';
import { buildWorld, insertMany, rng } from '../analytics/dataset.js';
import {
  createAnalyticsWorld,
  type AnalyticsWorld,
  type TenantFixture,
} from '../analytics/world.js';
import { publishedSnapshots, recordingLogger } from './support.js';

// The queue-less runner (embedded demo, no Redis): the BullMQ queue's semantics in-process.
let w: AnalyticsWorld;
let alpha: TenantFixture;
let directory: ControlPlane;

beforeAll(async () => {
  w = await createAnalyticsWorld('winline');
  alpha = await w.tenant('alpha');
  await buildWorld(alpha, rng(7));
  directory = new ControlPlane(w.t.env);
});
afterAll(async () => {
  await directory?.close();
  await w?.close();
});

describe('the in-process runner', () => {
  it('debounces a burst into one refresh, queues exactly one more behind a running one, and never overlaps a tenant', async () => {
    const log = recordingLogger();
    const results: RefreshJobResult[] = [];
    let running = 0;
    let maxRunning = 0;
    const runner = createInlineRunner({
      directory,
      warehouseDir: join(w.dir, 'wh-inline'),
      log,
      debounceMs: 150,
      duckdb: { threads: 1 },
      onRefreshed: (r) => results.push(r),
      afterTable: async (table) => {
        if (table !== WAREHOUSE_TABLES[0]!.name) return;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 400));
        running--;
      },
    });
    try {
      for (let i = 0; i < 5; i++) await runner.enqueueRefresh(alpha.id);
      await runner.idle();
      expect(results).toHaveLength(1);
      expect(results[0]!.mode).toBe('full');

      // While a refresh runs, requests queue exactly one more, which sees the new rows.
      await runner.enqueueRefresh(alpha.id);
      await new Promise((r) => setTimeout(r, 250)); // debounce over, refresh under way
      const now = runner.refreshNow(alpha.id, 'full');
      for (let i = 0; i < 3; i++) {
        await insertMany(w.admin, alpha.id, 'leads', [
          {
            guardian_name: 'G',
            email: `inline.${randomUUID().slice(0, 8)}@example.org`,
            stage: 'inquiry',
          },
        ]);
        await runner.enqueueRefresh(alpha.id);
      }
      const direct = await now;
      await runner.idle();
      // The running one, then (after the direct one) one more for the three requests.
      expect(results).toHaveLength(3);
      expect(maxRunning).toBe(1);
      expect(Date.parse(direct.startedAt)).toBeGreaterThanOrEqual(
        Date.parse(results[1]!.finishedAt),
      );
      expect(Date.parse(results[2]!.startedAt)).toBeGreaterThanOrEqual(
        Date.parse(direct.finishedAt),
      );
      const leads = (r: RefreshJobResult) => r.rowsPerTable.leads!.total;
      expect(leads(direct)).toBe(leads(results[1]!) + 3);
      expect(leads(results[2]!)).toBe(leads(direct));
      // Each published row comes from the run that produced its payload; the last run found
      // nothing new and rewrote nothing.
      const published = await publishedSnapshots(w.admin, alpha.id);
      const runs = new Set([...results, direct].map((r) => r.runId));
      for (const [k, s] of published) expect(runs.has(s.runId), k).toBe(true);
      expect(results.at(-1)!.published).toMatchObject({ upserted: 0, retired: 0 });
    } finally {
      await runner.close();
    }
  });

  it('drops requests that can never succeed without retrying them', async () => {
    const log = recordingLogger();
    const runner = createInlineRunner({
      directory,
      warehouseDir: join(w.dir, 'wh-inline-bad'),
      log,
      debounceMs: 0,
    });
    try {
      await runner.enqueueRefresh(randomUUID());
      await runner.enqueueRefresh('not-a-uuid');
      const started = performance.now();
      await runner.idle();
      expect(performance.now() - started).toBeLessThan(1_500); // no 2 s backoff
      expect(log.counters.get('job_refused')).toBe(2);
      await expect(runner.refreshNow(randomUUID())).rejects.toThrow(/unknown tenant/);
    } finally {
      await runner.close();
    }
  });
});
