import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { PlatformError } from '../db/tenants/errors.js';
import { runExport } from '../api/oneroster/run.js';
import { ControlPlane } from '../workers/control.js';
import { parseWorkerConfig } from '../workers/env.js';
import { args, run, UsageError } from './cli.js';

/** `npm run export`: one tenant as a OneRoster 1.2 CSV bundle (bulk), written as a zip. */
const USAGE = `usage: npm run export -- --tenant SLUG --oneroster OUT.zip`;

await run(async () => {
  const { values, positionals } = args(process.argv.slice(2), {
    tenant: { type: 'string' },
    oneroster: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.tenant) throw new UsageError('--tenant is required');
  if (!values.oneroster) throw new UsageError('--oneroster is required');

  const config = parseWorkerConfig(process.env, { requireRedis: false });
  const directory = new ControlPlane(config.db, { branchPoolMax: 1 });
  try {
    const tenant = await directory.tenantBySlug(values.tenant);
    if (!tenant) throw new PlatformError('tenant_not_found', `no tenant "${values.tenant}"`);
    const branch = await directory.branch(tenant.branchId);
    const started = Date.now();
    // Written beside the target and renamed at the end: a failed export leaves no half zip.
    const partial = `${values.oneroster}.partial`;
    const counts = await runExport(branch.db, tenant.id, createWriteStream(partial));
    await rename(partial, values.oneroster);
    const rows = Object.entries(counts.files)
      .map(([file, n]) => `  ${`${file}.csv`.padEnd(22)} ${String(n).padStart(8)}`)
      .join('\n');
    console.log(
      `exported ${values.tenant} to ${values.oneroster} (${Date.now() - started} ms)\n\n${rows}`,
    );
  } finally {
    await directory.close();
  }
}, USAGE);
