import type { ImportReport } from './import.js';
import type { Problems } from './read.js';
import type { FileKey } from './spec.js';
import { col, stg, type Query } from './staging.js';

/** Constraint → the file and column whose values broke it. */
const CONSTRAINTS: Record<string, [FileKey, string]> = {
  org_units_code_key: ['orgs', 'identifier'],
  courses_code_key: ['courses', 'courseCode'],
  classes_section_key: ['classes', 'classCode'],
  students_number_key: ['users', 'identifier'],
  staff_employee_number_key: ['users', 'identifier'],
  users_email_key: ['users', 'email'],
  class_enrollments_key: ['enrollments', 'userSourcedId'],
  class_teachers_key: ['enrollments', 'userSourcedId'],
  school_enrollments_key: ['roles', 'userSourcedId'],
  scores_key: ['results', 'studentSourcedId'],
};

export class MergeFailed extends Error {}

/** One statement of the merge: counts what it did into the report, or reports what it broke. */
export type Run = (key: FileKey, text: string, count?: 'created' | 'deleted') => Promise<void>;

/** Runs each statement in a savepoint: a broken constraint is reported and ends the merge. */
export function mergeStatements(q: Query, report: ImportReport, problems: Problems): Run {
  let step = 0;
  return async (key, text, count) => {
    const savepoint = `or_merge_${step++}`;
    await q(`savepoint ${savepoint}`);
    let rows: Record<string, unknown>[];
    try {
      rows = await q(text);
    } catch (err) {
      const e = (err as { cause?: unknown }).cause ?? err;
      const { code, constraint, detail, message } = e as {
        code?: string;
        constraint?: string;
        detail?: string;
        message?: string;
      };
      if (!code || !/^(23|22)/.test(code)) throw err;
      await q(`rollback to savepoint ${savepoint}`);
      const [file, column] = CONSTRAINTS[constraint ?? ''] ?? [key, null];
      const value = /=\((?:[0-9a-f-]{36}, )?(.*)\) /.exec(detail ?? '')?.[1] ?? null;
      let line: number | null = null;
      if (column && value !== null) {
        const hit = await q<{ line: number }>(
          `select line from ${stg(file)} where lower(${col(column)}) = lower(${literal(value)}) order by line limit 1`,
        ).catch(() => []);
        line = hit[0]?.line ?? null;
      }
      problems.error({
        file: `${file}.csv`,
        line,
        column,
        value,
        message: constraint
          ? `conflicts with a row the tenant already has (${constraint})`
          : `rejected by the database: ${message}`,
      });
      throw new MergeFailed();
    }
    await q(`release savepoint ${savepoint}`);
    const counts = report.files[key];
    if (counts) {
      for (const r of rows) {
        if (count === 'deleted') counts.deleted += Number(r.n ?? 0);
        else if (count === 'created') {
          counts.created += Number(r.created ?? 0);
          counts.updated += Number(r.updated ?? 0);
        }
      }
    }
  };
}

/** A SQL string literal (for values read back from the database's own error detail). */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
