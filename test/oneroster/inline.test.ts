import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../db/log.js';
import type { RefreshJobResult } from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { createInlineRunner } from '../../workers/inline.js';
import { oneRosterWorld, type OneRosterWorld } from './world.js';
import { tempDir, writeZip } from './zip.js';

/**
 * The embedded demo's queue-less runner runs an uploaded import in-process, as the worker
 * would, and the refresh the import asks for follows it (real PostgreSQL and DuckDB).
 */
let w: OneRosterWorld;
let directory: ControlPlane;
beforeAll(async () => {
  w = await oneRosterWorld('or_inline');
  directory = new ControlPlane(w.t.env, { branchPoolMax: 2 });
}, 120_000);
afterAll(async () => {
  await directory?.close();
  await w?.close();
});

it('runs an uploaded import in-process, records its report and refreshes the metrics', async () => {
  const tenant = await w.tenant('inline');
  const dir = await tempDir();
  const files: Record<string, string> = {};
  const sample = 'test/fixtures/oneroster/sample';
  for (const name of await readdir(sample))
    files[name] = await readFile(join(sample, name), 'utf8');
  const bundle = await readFile(await writeZip(join(dir, 'sample.zip'), files));
  const [row] = await w.rows<{ id: string }>(
    `insert into data_imports (tenant_id, bundle, file_name) values ($1, $2, 'sample.zip') returning id`,
    [tenant.id, bundle],
  );
  const refreshed: RefreshJobResult[] = [];
  const runner = createInlineRunner({
    directory,
    warehouseDir: join(dir, 'warehouse'),
    log: createLogger('error'),
    debounceMs: 10,
    duckdb: { threads: 1 },
    onRefreshed: (r) => refreshed.push(r),
  });
  try {
    expect(await runner.enqueueImport(tenant.id, row!.id)).toBe(true);
    await runner.idle();
  } finally {
    await runner.close();
  }
  const [done] = await w.rows<{ status: string; cleared: boolean; report: { ok: boolean } }>(
    `select status, bundle is null as cleared, report from data_imports where id = $1`,
    [row!.id],
  );
  expect(done).toMatchObject({ status: 'succeeded', cleared: true, report: { ok: true } });
  const [students] = await w.rows<{ n: number }>(
    `select count(*)::int as n from students where tenant_id = $1 and source_id is not null`,
    [tenant.id],
  );
  expect(students!.n).toBe(3);
  expect(refreshed.map((r) => r.tenantId)).toEqual([tenant.id]);
}, 120_000);
