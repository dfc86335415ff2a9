import { UnrecoverableError } from 'bullmq';
import { PlatformError } from '../db/tenants/errors.js';
import type { RefreshJobResult } from '../workers/contract.js';
import { ControlPlane } from '../workers/control.js';
import { parseWorkerConfig } from '../workers/env.js';
import { localLocks } from '../workers/locks.js';
import { createLogger } from '../db/log.js';
import { runRefresh } from '../workers/processors/refresh.js';
import { args, run, UsageError } from './cli.js';

/**
 * `npm run refresh`: one tenant's refresh now, in this process (no Redis needed) — the same
 * code the BullMQ processor runs. A worker refreshing the same tenant on this host at the
 * same moment is serialised by DuckDB's file lock (this run waits for it).
 */
const USAGE = `usage: npm run refresh -- --tenant SLUG [--full] [--verbose]`;

await run(async () => {
  const { values, positionals } = args(process.argv.slice(2), {
    tenant: { type: 'string' },
    full: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.tenant) throw new UsageError('--tenant is required');

  const config = parseWorkerConfig(process.env, { requireRedis: false });
  const log = createLogger(values.verbose ? 'debug' : 'warn', { service: 'refresh-cli' });
  const directory = new ControlPlane(config.db, { branchPoolMax: 1 });
  try {
    const tenant = await directory.tenantBySlug(values.tenant);
    if (!tenant) throw new PlatformError('tenant_not_found', `no tenant "${values.tenant}"`);
    let result: RefreshJobResult;
    try {
      result = await runRefresh(
        {
          directory,
          locks: localLocks(),
          warehouseDir: config.WAREHOUSE_DIR,
          log,
          duckdb: {
            ...(config.DUCKDB_MEMORY_LIMIT ? { memoryLimit: config.DUCKDB_MEMORY_LIMIT } : {}),
            ...(config.DUCKDB_THREADS ? { threads: config.DUCKDB_THREADS } : {}),
          },
        },
        { tenantId: tenant.id, mode: values.full ? 'full' : 'incremental' },
        { jobId: 'cli' },
      );
    } catch (err) {
      if (err instanceof UnrecoverableError) {
        throw new PlatformError('invalid_input', `${values.tenant}: ${err.message}`);
      }
      throw err;
    }
    console.log(format(values.tenant, result));
  } finally {
    await directory.close();
  }
}, USAGE);

function format(slug: string, r: RefreshJobResult): string {
  const requested = r.requestedMode === r.mode ? '' : ` (requested ${r.requestedMode})`;
  const lines = [
    `refreshed ${slug} (${r.tenantId}): ${r.mode}${requested}, metrics as of ${r.asOf}, run ${r.runId}`,
    '',
    `  ${'table'.padEnd(24)} ${'extracted'.padStart(10)} ${'removed'.padStart(10)} ${'total'.padStart(10)}`,
  ];
  let extracted = 0;
  for (const [table, c] of Object.entries(r.rowsPerTable).sort(([a], [b]) => a.localeCompare(b))) {
    extracted += c.extracted;
    lines.push(
      `  ${table.padEnd(24)} ${String(c.extracted).padStart(10)} ${String(c.removed).padStart(10)} ${String(c.total).padStart(10)}`,
    );
  }
  const t = r.timings;
  lines.push(
    `  ${'(all)'.padEnd(24)} ${String(extracted).padStart(10)}`,
    '',
    `watermark: ${r.watermarkBefore ?? '(none: first run)'} → ${r.watermarkAfter}`,
    `duration: ${t.totalMs} ms (extract ${t.extractMs} ms, metrics ${t.metricsMs} ms, ` +
      `commit ${t.commitMs} ms, publish ${t.publishMs} ms)`,
    `snapshots published: ${r.snapshots} (${r.published.upserted} upserted, ${r.published.retired} retired)`,
  );
  return lines.join('\n');
}
