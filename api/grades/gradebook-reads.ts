import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { uuidList } from '../resources/sql.js';
import { bandsOf, type GradeBand } from './compute.js';
import type { ScoreRow } from './score-lines.js';

/**
 * Each class's grading scale: its own, else the tenant's default, else the A–F default
 * (bands highest minimum first).
 */
export async function scalesOf(
  tx: Tx<TenantSchema>,
  classIds: readonly string[],
): Promise<Map<string, GradeBand[]>> {
  const out = new Map<string, GradeBand[]>();
  if (classIds.length === 0) return out;
  const rows = rowsOf<{ id: string; bands: unknown }>(
    await tx.execute(sql`
      select c.id::text as id, coalesce(own.bands, dflt.bands) as bands
      from classes c
      left join grading_scales own
        on own.id = c.grading_scale_id and own.deleted_at is null
      left join lateral (
        select g.bands from grading_scales g
        where g.is_default and g.deleted_at is null order by g.id limit 1) dflt on true
      where c.id in ${uuidList(classIds)}`),
  );
  for (const r of rows) out.set(r.id, bandsOf(r.bands));
  return out;
}

/**
 * Live scores on live assignments, filtered by `where` (on `s` scores, `a` assignments), with
 * the day each was graded in its school's zone (`tenantZone` for a class without a school).
 */
export async function scoreRows(
  tx: Tx<TenantSchema>,
  where: SQL,
  tenantZone: string,
): Promise<ScoreRow[]> {
  return rowsOf<ScoreRow>(
    await tx.execute(sql`
      select s.student_id::text as student_id, a.class_id::text as class_id,
             s.assignment_id::text as assignment_id, s.points::float8 as points,
             a.points_possible::float8 as points_possible, a.weight::float8 as weight,
             a.due_date::text as due_date, s.is_late, s.is_missing, s.is_excused, s.comment,
             (s.graded_at at time zone coalesce(
               (select o.timezone from classes k join org_units o on o.id = k.school_id
                 where k.id = a.class_id), ${tenantZone}::text))::date::text
               as graded_on
      from scores s
      join assignments a on a.id = s.assignment_id and a.deleted_at is null
      where s.deleted_at is null and ${where}`),
  );
}
