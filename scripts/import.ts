import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PlatformError } from '../db/tenants/errors.js';
import { runImport } from '../api/oneroster/run.js';
import type { ImportProgress, ImportReport } from '../api/oneroster/import.js';
import { REFRESH_JOB, refreshJobOptions } from '../workers/contract.js';
import { ControlPlane } from '../workers/control.js';
import { parseWorkerConfig, type WorkerConfig } from '../workers/env.js';
import { args, run, UsageError } from './cli.js';

/**
 * `npm run import`: a OneRoster 1.2 CSV bundle (zip or directory) into one tenant, in one
 * transaction. `--dry-run` checks and counts everything, then rolls back. Exits 1 when the
 * bundle has errors (the report lists each: file, line, column, value). After a committed
 * import that changed what the metrics read, a refresh is enqueued when REDIS_URL is set
 * (else the next `npm run refresh` or scheduled sweep picks it up).
 */
const USAGE = `usage: npm run import -- --tenant SLUG --oneroster PATH(.zip|dir) [--dry-run] [--json]`;

await run(async () => {
  const { values, positionals } = args(process.argv.slice(2), {
    tenant: { type: 'string' },
    oneroster: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.tenant) throw new UsageError('--tenant is required');
  if (!values.oneroster) throw new UsageError('--oneroster is required');

  const config = parseWorkerConfig(process.env, { requireRedis: false });
  const directory = new ControlPlane(config.db, { branchPoolMax: 2 });
  try {
    const tenant = await directory.tenantBySlug(values.tenant);
    if (!tenant) throw new PlatformError('tenant_not_found', `no tenant "${values.tenant}"`);
    const branch = await directory.branch(tenant.branchId);
    const started = Date.now();
    const show = progressLine(started);
    const { report, metricInputsWritten } = await runImport(
      branch.db,
      tenant.id,
      values.oneroster,
      {
        dryRun: values['dry-run'],
        onProgress: show,
      },
    );
    show(null);
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else console.log(format(values.tenant, report, Date.now() - started));
    if (metricInputsWritten && process.env.REDIS_URL) await enqueueRefresh(config, tenant.id);
    if (!report.ok) process.exitCode = 1;
  } finally {
    await directory.close();
  }
}, USAGE);

/** On a terminal, one line rewritten in place: phase, file, rows and rate. */
function progressLine(started: number) {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (p: ImportProgress | null) => {
    if (!tty) return;
    if (p === null) return void process.stderr.write('\r\x1b[K');
    const now = Date.now();
    if (now - last < 100 && p.phase === 'reading') return;
    last = now;
    const secs = Math.max(0.001, (now - started) / 1000);
    const rate = Math.round(p.rows / secs);
    process.stderr.write(
      `\r\x1b[K${p.phase}${p.file ? ` ${p.file}` : ''}: ${p.rows.toLocaleString('en-US')} rows, ${rate.toLocaleString('en-US')} rows/s`,
    );
  };
}

async function enqueueRefresh(config: WorkerConfig, tenantId: string) {
  const connection = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
  });
  connection.on('error', () => {});
  const queue = new Queue(config.METRICS_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
  try {
    await queue.add(REFRESH_JOB, { tenantId, mode: 'incremental' }, refreshJobOptions(tenantId, 0));
    console.log('metrics refresh enqueued');
  } catch (err) {
    console.error(`metrics refresh not enqueued (${(err as Error).message}); run npm run refresh`);
  } finally {
    await queue.close().catch(() => undefined);
    connection.disconnect();
  }
}

function format(slug: string, r: ImportReport, ms: number): string {
  const verdict = !r.ok
    ? 'not imported: the bundle has errors, nothing was written'
    : r.dryRun
      ? 'dry run: the bundle is valid, nothing was written'
      : 'imported';
  const lines = [`${slug}: ${verdict} (OneRoster ${r.oneRosterVersion ?? '?'}, ${ms} ms)`, ''];
  lines.push(
    `  ${'file'.padEnd(22)} ${'mode'.padEnd(6)} ${'rows'.padStart(8)} ${'created'.padStart(8)} ${'updated'.padStart(8)} ${'ended'.padStart(8)}`,
  );
  for (const [file, c] of Object.entries(r.files))
    lines.push(
      `  ${`${file}.csv`.padEnd(22)} ${c.mode.padEnd(6)} ${String(c.rows).padStart(8)} ${String(c.created).padStart(8)} ${String(c.updated).padStart(8)} ${String(c.deleted).padStart(8)}`,
    );
  const where = (p: ImportReport['errors'][number]) =>
    `${p.file}${p.line !== null ? `:${p.line}` : ''}${p.column ? ` ${p.column}` : ''}${p.value !== null ? ` "${p.value}"` : ''}`;
  if (r.errors.length) {
    lines.push('', `errors (${r.errors.length + r.moreErrors}):`);
    for (const e of r.errors.slice(0, 50)) lines.push(`  ${where(e)}: ${e.message}`);
    if (r.errors.length + r.moreErrors > 50) lines.push(`  … (--json lists up to 1,000)`);
  }
  if (r.warnings.length) {
    lines.push('', `warnings (${r.warnings.length}):`);
    for (const e of r.warnings.slice(0, 20)) lines.push(`  ${where(e)}: ${e.message}`);
  }
  return lines.join('\n');
}
