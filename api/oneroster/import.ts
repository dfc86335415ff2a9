import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type * as TenantSchema from '../../db/schema/tenant.js';
import { ASSIGNMENT_CATEGORIES } from '../../db/schema/grades.js';
import type { Bundle } from './bundle.js';
import { checkBundle } from './checks.js';
import { readManifest } from './manifest.js';
import { merge } from './merge.js';
import { MergeFailed } from './merge-statements.js';
import { Problems, readCsv, type Problem, type StagedRow } from './read.js';
import { categoryKeyOf, FILE_KEYS, SPECS, type FileKey } from './spec.js';
import { col, stage, stg } from './staging.js';

/**
 * OneRoster 1.2 CSV import into one tenant, inside the caller's transaction: every file is
 * streamed into a temporary staging table (checked row by row on the way, then COPY'd), the bundle is
 * checked as a whole in SQL (duplicate sourcedIds, references to rows in neither the
 * bundle nor the tenant, people without a role or a school), and only then merged, one
 * set-based statement per target table. A row is found again by its `source_id` (the
 * sourcedId), so a re-import updates in place and an unchanged row is not written at all.
 * Bulk files end (soft-delete) the imported rows they no longer list; delta files end the
 * rows they mark `tobedeleted`. Rows Homeroom created itself (no source_id) are never
 * ended by an import.
 */

export type FileMode = 'bulk' | 'delta' | 'absent';

export interface FileCounts {
  mode: FileMode;
  rows: number;
  created: number;
  updated: number;
  deleted: number;
}

export interface ImportReport {
  /** No errors: the import was (or, in a dry run, would be) applied. */
  ok: boolean;
  dryRun: boolean;
  /** Whether the changes were committed (false for a dry run or any error). */
  applied: boolean;
  oneRosterVersion: string | null;
  files: Partial<Record<FileKey, FileCounts>>;
  errors: Problem[];
  warnings: Problem[];
  /** Errors beyond the first 1,000, counted but not listed. */
  moreErrors: number;
}

export interface ImportProgress {
  phase: 'reading' | 'checking' | 'merging' | 'done';
  file: string | null;
  /** Data rows read so far over all files. */
  rows: number;
}

export interface ImportOptions {
  dryRun?: boolean;
  onProgress?: (p: ImportProgress) => void;
}

export async function importOneRoster(
  tx: Tx<typeof TenantSchema>,
  bundle: Bundle,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const problems = new Problems();
  const progress = options.onProgress ?? (() => {});
  // One statement per round trip (every driver takes that); a text may hold several.
  const q = async <R extends Record<string, unknown> = Record<string, unknown>>(text: string) => {
    let rows: R[] = [];
    for (const statement of text.split(/;\s*\n/).filter((s) => s.trim()))
      rows = rowsOf<R>(await tx.execute(sql.raw(statement)));
    return rows;
  };
  const report: ImportReport = {
    ok: false,
    dryRun: options.dryRun === true,
    applied: false,
    oneRosterVersion: null,
    files: {},
    errors: problems.errors,
    warnings: problems.warnings,
    moreErrors: 0,
  };
  const finish = () => {
    report.moreErrors = problems.dropped;
    report.ok = problems.count === 0;
    progress({ phase: 'done', file: null, rows: totalRows });
    return report;
  };
  let totalRows = 0;

  // The manifest: which files are here, bulk or delta.
  const modes = await readManifest(bundle, problems, report);
  if (!modes) return finish();

  for (const key of FILE_KEYS) {
    const columns = Object.keys(SPECS[key].columns).map((c) => `${col(c)} text`);
    if (key === 'categories') columns.push('key text');
    await q(
      `create temp table if not exists ${stg(key)} (line int, ${columns.join(', ')}) on commit drop;
       truncate ${stg(key)}`,
    );
  }

  for (const key of FILE_KEYS) {
    const mode = modes[key];
    if (mode === 'absent') continue;
    const name = `${key}.csv`;
    progress({ phase: 'reading', file: name, rows: totalRows });
    const input = await bundle.open(name);
    const rows = await readCsv(input, {
      file: name,
      spec: SPECS[key],
      problems,
      onBatch: async (batch: StagedRow[]) => {
        if (key === 'categories')
          for (const r of batch) r.key = categoryKeyOf(String(r.title), ASSIGNMENT_CATEGORIES);
        await stage(tx, key, batch);
        totalRows += batch.length;
        progress({ phase: 'reading', file: name, rows: totalRows });
      },
    });
    report.files[key] = { mode, rows: rows ?? 0, created: 0, updated: 0, deleted: 0 };
    if (mode === 'bulk') {
      const marked = await q<{ line: number }>(
        `select line from ${stg(key)} where status = 'tobedeleted' order by line limit 5`,
      );
      for (const m of marked)
        problems.error({
          file: name,
          line: m.line,
          column: 'status',
          value: 'tobedeleted',
          message: 'a bulk file lists only live rows (tobedeleted belongs in a delta file)',
        });
    }
  }
  // 1.1: a user's role and orgs are on the user; they stand in for roles.csv.
  if (modes.roles === 'absent' && modes.users !== 'absent') {
    await q(
      `insert into ${stg('roles')} (line, "sourcedId", status, "userSourcedId", "roleType", role, "orgSourcedId")
       select u.line, u."sourcedId" || ':' || x.org || ':' || u.role, u.status, u."sourcedId",
              case when x.n = 1 then 'primary' else 'secondary' end, u.role, x.org
       from ${stg('users')} u, unnest(string_to_array(u."orgSourcedIds", ',')) with ordinality as x(org, n)
       where u.role is not null`,
    );
    modes.roles = modes.users;
  }

  // Temporary tables are never analysed on their own: without statistics and indexes the
  // planner nests loops over them (quadratic in the rows).
  for (const key of FILE_KEYS) {
    if (modes[key] === 'absent') continue;
    const refs = Object.entries(SPECS[key].columns)
      .filter(([, c]) => c.kind === 'ref')
      .map(([name]) => name);
    for (const name of ['sourcedId', ...refs])
      await q(`create index on ${stg(key)} (${col(name)})`);
    await q(`analyze ${stg(key)}`);
  }
  // Rows with errors were not staged: references to them would only repeat those errors.
  if (problems.count > 0) return finish();
  progress({ phase: 'checking', file: null, rows: totalRows });
  await checkBundle(q, modes, problems);
  if (problems.count > 0) return finish();

  progress({ phase: 'merging', file: null, rows: totalRows });
  try {
    await merge(q, modes, report, problems);
  } catch (err) {
    if (err instanceof MergeFailed) return finish();
    throw err;
  }
  return finish();
}
