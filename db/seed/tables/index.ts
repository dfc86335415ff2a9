import type { TableSource } from '../copy.js';
import type { World } from '../world/model.js';
import { academicTables } from './academic.js';
import { admissionsTables } from './admissions.js';
import { attendanceTables } from './attendance.js';
import { tableContext, type TenantRefs } from './context.js';
import { esaTables } from './esa.js';
import { financeTables } from './finance.js';
import { gradeTables } from './grades.js';
import { orgTables } from './org.js';
import { peopleTables } from './people.js';
import { tourSlotTables } from '../tours.js';

export type { TenantRefs } from './context.js';

/**
 * Row generators, one per tenant table, in foreign-key order, one file per domain. Each is
 * a sync generator that derives its rows from the world and per-entity random streams as
 * COPY pulls them, so no table is ever materialised; the big ones (attendance, scores)
 * yield millions of rows from a few hundred bytes of state.
 *
 * Rows are written in ascending id order (see IdSpace) and, where a unique index exists,
 * in that index's order too: the btrees are appended to, not split at random.
 */
export function seedTables(world: World, refs: TenantRefs): TableSource[] {
  const t = tableContext(world, refs);
  return [
    ...orgTables(t),
    ...peopleTables(t),
    ...academicTables(t),
    ...attendanceTables(t),
    ...gradeTables(t),
    ...admissionsTables(t),
    ...esaTables(t),
    ...financeTables(t),
    ...tourSlotTables(world),
  ];
}
