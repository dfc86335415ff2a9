import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { rowsOf } from '../../db/connection.js';
import type { Logger } from '../../db/log.js';
import { withTenant } from '../../db/tenancy.js';
import { runImport } from '../../api/oneroster/run.js';
import type { ImportJobData } from '../contract.js';
import type { TenantDirectory } from '../control.js';

export interface ImportJobDeps {
  directory: TenantDirectory;
  log: Logger;
  /** Called after an import committed a write to a metric input. */
  enqueueRefresh: (tenantId: string) => Promise<unknown>;
}

export interface ImportJobResult {
  importId: string;
  status: 'succeeded' | 'failed';
}

/**
 * Runs one uploaded import: the bundle is read from its `data_imports` row into a private
 * temporary file, imported in one transaction (api/oneroster/run.ts), and the row gets the
 * report and loses the bundle. Progress is written to the row as the import goes, in short
 * transactions of its own, so `GET /v1/imports/{id}` shows it.
 */
export async function runImportJob(
  deps: ImportJobDeps,
  data: ImportJobData,
): Promise<ImportJobResult> {
  const tenant = await deps.directory.tenant(data.tenantId);
  if (!tenant) throw new Error('unknown tenant');
  const { db } = await deps.directory.branch(tenant.branchId);
  const claimed = await withTenant(db, tenant.id, async (tx) =>
    rowsOf<{ bundle: Buffer; dry_run: boolean; created_by: string | null }>(
      await tx.execute(sql`
        update data_imports set status = 'running', started_at = now()
        where id = ${data.importId} and status = 'queued' and bundle is not null
        returning bundle, dry_run, created_by`),
    ),
  );
  const row = claimed[0];
  if (!row) return { importId: data.importId, status: 'failed' };
  const dir = await mkdtemp(join(tmpdir(), 'homeroom-import-'));
  try {
    const path = join(dir, 'bundle.zip');
    await writeFile(path, row.bundle, { mode: 0o600 });
    let lastWrite = 0;
    let writing: Promise<unknown> = Promise.resolve();
    const { report, metricInputsWritten } = await runImport(db, tenant.id, path, {
      dryRun: row.dry_run,
      actorUserId: row.created_by,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastWrite < 1000) return;
        lastWrite = now;
        writing = withTenant(db, tenant.id, (tx) =>
          tx.execute(
            sql`update data_imports set progress = ${JSON.stringify(p)}::jsonb where id = ${data.importId}`,
          ),
        ).catch(() => undefined);
      },
    });
    await writing;
    const status = report.ok ? 'succeeded' : 'failed';
    await withTenant(db, tenant.id, (tx) =>
      tx.execute(sql`
        update data_imports set status = ${status}, report = ${JSON.stringify(report)}::jsonb,
          progress = ${JSON.stringify({ phase: 'done', file: null, rows: Object.values(report.files).reduce((n, f) => n + f.rows, 0) })}::jsonb,
          bundle = null, finished_at = now()
        where id = ${data.importId}`),
    );
    if (metricInputsWritten) await deps.enqueueRefresh(tenant.id);
    deps.log.info('import.finished', { tenant_id: tenant.id, import_id: data.importId, status });
    return { importId: data.importId, status };
  } catch (err) {
    await withTenant(db, tenant.id, (tx) =>
      tx.execute(sql`
        update data_imports set status = 'failed', bundle = null, finished_at = now(),
          report = ${JSON.stringify({ ok: false, errors: [{ file: '(bundle)', line: null, column: null, value: null, message: 'the import could not run; try again' }] })}::jsonb
        where id = ${data.importId}`),
    ).catch(() => undefined);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
