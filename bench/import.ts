import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import yauzl from 'yauzl';
import { runExport, runImport } from '../api/oneroster/run.js';
import { createDb } from '../db/connection-node.js';
import { createTenant, tenantBranchOwner } from '../db/platform.js';
import * as tenantSchema from '../db/schema/tenant.js';
import { seedTenant, silentProgress, type PresetName } from '../db/seed/index.js';
import { benchEnvironment } from './environment.js';

/**
 * OneRoster import and export against their targets (issue 17), on a bundle exported from a
 * seeded preset (`large` by default; `BENCH_IMPORT_PRESET=small|demo` for a smoke run):
 * - export of the seeded tenant ≤ 20 s;
 * - import into an empty tenant ≤ 60 s with the process's peak RSS ≤ 512 MiB;
 * - re-import of the unchanged bundle ≤ 20 s;
 * - import rows/s against a raw `COPY … FROM STDIN (FORMAT csv)` of the same files into
 *   text tables, in the same run (the floor: reading and storing the bytes, nothing else).
 */

const TARGETS = { exportMs: 20_000, importMs: 60_000, reimportMs: 20_000, rssMiB: 512 };

const log = (line: string) => process.stdout.write(`${line}\n`);

function entries(
  path: string,
): Promise<{ name: string; read: () => Promise<NodeJS.ReadableStream> }[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out: { name: string; read: () => Promise<NodeJS.ReadableStream> }[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        out.push({
          name: e.fileName,
          read: () =>
            new Promise((res, rej) =>
              zip.openReadStream(e, (er, s) => (er || !s ? rej(er) : res(s))),
            ),
        });
        zip.readEntry();
      });
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}

export async function benchImport(): Promise<void> {
  const preset = (process.env.BENCH_IMPORT_PRESET ?? 'large') as PresetName;
  const bench = await benchEnvironment('import');
  const dir = await mkdtemp(join(tmpdir(), 'hrb-import-'));
  const handle = await createDb({
    driver: 'pg',
    url: bench.appUrl('pool'),
    schema: tenantSchema,
    max: 2,
  });
  try {
    const tenant = (slug: string) =>
      createTenant(bench.env, {
        slug,
        name: slug,
        domains: [`${slug}.test`],
        placement: 'pool',
        adminEmail: `admin@${slug}.test`,
        adminPassword: 'Correct-Horse-Battery-9',
        actor: 'bench',
      });
    const source = await tenant('bench-source');
    const target = await tenant('bench-target');
    log(`import: seeding preset ${preset} (deployment ${bench.prefix})…`);
    const owner = (await tenantBranchOwner(bench.env, 'bench-source'))!;
    await seedTenant({
      ownerUrl: owner.ownerUrl,
      tenantId: source.id,
      preset,
      progress: silentProgress,
    });

    const zip = join(dir, 'bundle.zip');
    let t0 = performance.now();
    const exported = await runExport(handle.db, source.id, createWriteStream(zip));
    const exportMs = performance.now() - t0;
    const rows = Object.values(exported.files).reduce((n, c) => n + (c ?? 0), 0);
    log(`  export: ${Math.round(exportMs)} ms, ${rows} rows (${JSON.stringify(exported.files)})`);

    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    t0 = performance.now();
    const first = await runImport(handle.db, target.id, zip);
    const importMs = performance.now() - t0;
    clearInterval(sampler);
    if (!first.report.ok)
      throw new Error(`import failed: ${JSON.stringify(first.report.errors.slice(0, 5))}`);
    t0 = performance.now();
    const again = await runImport(handle.db, target.id, zip);
    const reimportMs = performance.now() - t0;
    const changed = Object.values(again.report.files).reduce(
      (n, f) => n + f.created + f.updated + f.deleted,
      0,
    );

    // The floor: the same CSV bytes COPY'd into text tables, nothing checked or merged.
    const client = new pg.Client({ connectionString: bench.adminUrl('pool') });
    await client.connect();
    let copyMs = 0;
    try {
      for (const e of await entries(zip)) {
        if (e.name === 'manifest.csv') continue;
        const header = await new Promise<string>((res, rej) => {
          void e.read().then((s) => {
            let buf = '';
            s.on('data', (c: Buffer) => {
              buf += c.toString();
              const nl = buf.indexOf('\n');
              if (nl >= 0) {
                (s as unknown as { destroy(): void }).destroy();
                res(buf.slice(0, nl).trim());
              }
            });
            s.on('error', rej);
          }, rej);
        });
        const cols = header.split(',').map((c) => `"${c}" text`);
        const table = `raw_${e.name.replace('.csv', '')}`;
        await client.query(`create unlogged table ${table} (${cols.join(', ')})`);
        const start = performance.now();
        await pipeline(
          (await e.read()) as NodeJS.ReadableStream,
          client.query(copyFrom(`copy ${table} from stdin with (format csv, header true)`)),
        );
        copyMs += performance.now() - start;
      }
    } finally {
      await client.end();
    }
    const rate = (ms: number) => Math.round(rows / (ms / 1000));
    const rssMiB = Math.round(peak / 1024 / 1024);
    log(
      `  import into an empty tenant: ${Math.round(importMs)} ms (${rate(importMs)} rows/s), peak RSS ${rssMiB} MiB`,
    );
    log(`  re-import, unchanged: ${Math.round(reimportMs)} ms, ${changed} rows changed`);
    log(
      `  raw COPY of the same files: ${Math.round(copyMs)} ms (${rate(copyMs)} rows/s); import = ${(copyMs / importMs).toFixed(3)} × COPY`,
    );
    const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(
      `  targets: export ≤ ${TARGETS.exportMs} ms ${verdict(exportMs <= TARGETS.exportMs)}, import ≤ ${TARGETS.importMs} ms ${verdict(importMs <= TARGETS.importMs)}, ` +
        `re-import ≤ ${TARGETS.reimportMs} ms ${verdict(reimportMs <= TARGETS.reimportMs)}, RSS ≤ ${TARGETS.rssMiB} MiB ${verdict(rssMiB <= TARGETS.rssMiB)}`,
    );
  } finally {
    await handle.close();
    await rm(dir, { recursive: true, force: true });
    if (process.env.BENCH_KEEP !== '1') await bench.destroy();
  }
}
