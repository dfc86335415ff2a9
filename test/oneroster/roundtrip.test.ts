import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport, runImport } from '../../api/oneroster/run.js';
import { tenantBranchOwner } from '../../db/platform.js';
import { seedTenant } from '../../db/seed/index.js';
import type { CreatedTenant } from '../../db/tenants/create.js';
import { oneRosterWorld, type OneRosterWorld } from './world.js';
import { rowsWithout, tempDir, unzip } from './zip.js';

/**
 * A seeded tenant exported, imported into an empty tenant and exported again gives the
 * same files, dateLastModified aside: every field the export writes survives the import.
 */
let w: OneRosterWorld;
let seeded: CreatedTenant;
let empty: CreatedTenant;
let dir: string;

beforeAll(async () => {
  w = await oneRosterWorld('or_trip');
  seeded = await w.tenant('seeded');
  empty = await w.tenant('empty');
  const owner = await tenantBranchOwner(w.t.env, 'seeded');
  await seedTenant({
    ownerUrl: owner!.ownerUrl,
    tenantId: seeded.id,
    preset: 'small',
    asOf: '2026-03-02',
  });
  dir = await tempDir();
}, 300_000);
afterAll(() => w?.close());

async function exportTo(tenant: CreatedTenant, name: string): Promise<string> {
  const path = join(dir, name);
  await runExport(w.handle.db, tenant.id, createWriteStream(path));
  return path;
}

describe('OneRoster round trip', () => {
  it('export → import into an empty tenant → export gives the same files', async () => {
    const first = await exportTo(seeded, 'first.zip');
    const imported = await runImport(w.handle.db, empty.id, first);
    expect(imported.report.errors).toEqual([]);
    expect(imported.report.applied).toBe(true);
    const second = await exportTo(empty, 'second.zip');
    const a = await unzip(first);
    const b = await unzip(second);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const name of Object.keys(a)) {
      const rowsA = rowsWithout(a[name]!, 'dateLastModified');
      expect(rowsA.length, name).toBeGreaterThan(name === 'manifest.csv' ? 10 : 1);
      expect(rowsWithout(b[name]!, 'dateLastModified'), name).toEqual(rowsA);
    }
  }, 300_000);
});
