import type { PgColumn } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import { rowScope, withinReach, type ScopeRules } from '../auth/scope.js';
import type { Ctx } from './crud.js';

/**
 * Builds a resource's `scope` from its rules: reading uses the `<resource>.read`
 * permission's grants, writing the `<resource>.write` ones, so a role that may read a
 * school's records but write none of them reaches different rows for each.
 */
export function scoped(
  permissions: { read: string; write: string },
  rules: ScopeRules,
): (c: Ctx, mode: 'read' | 'write') => Promise<SQL | undefined> {
  return (c, mode) => rowScope(c.get('tx'), c.get('principal'), permissions[mode], rules);
}

/** Rules for records that belong to an org unit column: org roles within their reach only. */
export const orgOwned = (column: PgColumn): ScopeRules => ({
  org: (reach) => withinReach(reach, column),
});
