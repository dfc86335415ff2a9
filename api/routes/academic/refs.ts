import { inArray, type SQL } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { loadScoped, type CrudTable, type Ctx, type Row } from '../../resources/crud.js';

/** Only org units that are schools. */
export const isSchool = (): SQL => inArray(t.orgUnits.kind, [...t.SCHOOL_KINDS]);

export interface Reference {
  /** The body field, e.g. `course_id`. */
  field: string;
  /** What the id names, for the message (`course`). */
  what: string;
  table: CrudTable;
  id: string | null | undefined;
  /** Rows the caller may reference; undefined = any row of the tenant. */
  scope?: SQL | undefined;
}

/**
 * Every given reference must name a live row of this tenant visible to the caller;
 * otherwise one 422 lists each field that does not (never the FK failure's 5xx or a hint
 * that a row exists out of reach).
 */
export async function checkReferences(c: Ctx, refs: Reference[]): Promise<Row[]> {
  const found: Row[] = [];
  const missing: InvalidParam[] = [];
  for (const ref of refs) {
    if (!ref.id) continue;
    try {
      found.push(
        await loadScoped(c, { table: ref.table, scope: async () => ref.scope }, ref.id, 'read'),
      );
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'not_found')) throw err;
      missing.push({ name: `json.${ref.field}`, reason: `no such ${ref.what}` });
    }
  }
  if (missing.length)
    throw new ApiError('unprocessable', 'A referenced record does not exist.', {
      invalidParams: missing,
    });
  return found;
}

/** Exit on or after entry (422), for create and for a change merged over the stored row. */
export function checkDates(entry: unknown, exit: unknown): void {
  if (exit === null || exit === undefined) return;
  if (String(exit) < String(entry))
    throw new ApiError('unprocessable', 'The exit date is before the entry date.', {
      invalidParams: [{ name: 'json.exit_date', reason: 'must be on or after entry_date' }],
    });
}
