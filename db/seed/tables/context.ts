import { DateFormat } from '../dates.js';
import type { World } from '../world/model.js';

/** Ids that exist in the tenant before seeding and that seeded rows point at. */
export interface TenantRefs {
  rootOrgUnitId: string;
  roleIds: { principal: string; teacher: string; parent: string };
  /** Password hashes of the demo logins (salted, so deliberately not deterministic). */
  passwordHashes: { principal: string; teacher: string; parent: string };
}

/** What every table source reads: the world, the tenant's refs and one shared date formatter. */
export interface TableContext {
  world: World;
  refs: TenantRefs;
  ts: (ms: number) => string;
  date: (day: number) => string;
  /** A date, or null for a negative day number (the generator's "none"). */
  dateOrNull: (day: number) => string | null;
}

export function tableContext(world: World, refs: TenantRefs): TableContext {
  // One formatter for all tables: it caches date strings.
  const fmt = new DateFormat();
  return {
    world,
    refs,
    ts: (ms) => fmt.timestamp(ms),
    date: (day) => fmt.date(day),
    dateOrNull: (day) => (day >= 0 ? fmt.date(day) : null),
  };
}
