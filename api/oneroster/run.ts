import { sql } from 'drizzle-orm';
import type { Db } from '../../db/connection.js';
import type * as TenantSchema from '../../db/schema/tenant.js';
import type { Writable } from 'node:stream';
import { withTenant, withTenantTracked } from '../../db/tenancy.js';
import { BundleError, DEFAULT_LIMITS, openBundle, type BundleLimits } from './bundle.js';
import { exportOneRoster, type ExportCounts } from './export.js';
import { importOneRoster, type ImportOptions, type ImportReport } from './import.js';

export interface RunImportOptions extends ImportOptions {
  limits?: BundleLimits;
  /** Who asked: the audit row's actor (null: an operator on the command line). */
  actorUserId?: string | null;
  requestId?: string | null;
}

export interface RunImportResult {
  report: ImportReport;
  /** The import committed a write to a metric input: the caller enqueues a refresh. */
  metricInputsWritten: boolean;
}

class Rollback extends Error {
  constructor(readonly report: ImportReport) {
    super('rolled back');
  }
}

/**
 * One import, atomic: the whole bundle in one tenant transaction, committed only when it
 * has no errors and is not a dry run (a dry run does all the same work, then rolls back).
 * Whether the committed transaction wrote a metric input is read the way request
 * transactions read it (`withTenantTracked`), so the caller enqueues the same refresh.
 */
export async function runImport(
  db: Db<typeof TenantSchema>,
  tenantId: string,
  path: string,
  options: RunImportOptions = {},
): Promise<RunImportResult> {
  let bundle;
  try {
    bundle = await openBundle(path, options.limits ?? DEFAULT_LIMITS);
  } catch (err) {
    if (err instanceof BundleError)
      return { report: bundleReport(err, options), metricInputsWritten: false };
    throw err;
  }
  try {
    const tracked = await withTenantTracked(db, tenantId, async (tx) => {
      let report: ImportReport;
      try {
        report = await importOneRoster(tx, bundle, options);
      } catch (err) {
        if (err instanceof BundleError) throw new Rollback(bundleReport(err, options));
        throw err;
      }
      if (!report.ok || report.dryRun) throw new Rollback(report);
      await tx.execute(sql`
        insert into audit_log (tenant_id, actor_user_id, actor_kind, action, entity_type, entity_id, after, request_id)
        values (${tenantId}, ${options.actorUserId ?? null}, ${options.actorUserId ? 'user' : 'system'},
                'oneroster.import', 'tenant', ${tenantId}, ${JSON.stringify({ files: report.files })}::jsonb,
                ${options.requestId ?? null})`);
      report.applied = true;
      return report;
    });
    return { report: tracked.result, metricInputsWritten: tracked.metricInputsWritten };
  } catch (err) {
    if (err instanceof Rollback) return { report: err.report, metricInputsWritten: false };
    throw err;
  } finally {
    await bundle.close();
  }
}

function bundleReport(err: BundleError, options: ImportOptions): ImportReport {
  return {
    ok: false,
    dryRun: options.dryRun === true,
    applied: false,
    oneRosterVersion: null,
    files: {},
    errors: [
      { file: err.file ?? '(bundle)', line: null, column: null, value: null, message: err.message },
    ],
    warnings: [],
    moreErrors: 0,
  };
}

/** The tenant's bundle as a zip into `out`, read in one transaction. */
export async function runExport(
  db: Db<typeof TenantSchema>,
  tenantId: string,
  out: Writable,
): Promise<ExportCounts> {
  return withTenant(db, tenantId, (tx) => exportOneRoster(tx, out));
}
