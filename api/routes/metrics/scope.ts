import { isNull, eq, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Context } from 'hono';
import type { AppEnv } from '../../app-env.js';
import { orgReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';

/** Where published figures apply: the whole tenant, or one school (`scope_id`). */
export interface PublicationScope {
  kind: 'tenant' | 'school';
  schoolId: string | null;
}

/**
 * The scope a caller reads published metrics or dashboards at. `?school=` must be within
 * the caller's org reach for `permission` — outside it the answer is the same 404 as for a
 * school with nothing published, so scope reveals nothing. Without `?school=` the scope is
 * the whole tenant, which needs tenant-wide reach — or, for a caller whose reach is exactly
 * one org unit (a principal of one school), that one school.
 */
export async function publicationScope(
  c: Context<AppEnv>,
  permission: string,
  school: string | undefined,
  nothing: string,
): Promise<PublicationScope> {
  const reach = await orgReach(c.get('tx'), c.get('principal'), permission);
  if (school) {
    if (!reach.all && !reach.orgUnitIds.includes(school)) throw new ApiError('not_found', nothing);
    return { kind: 'school', schoolId: school };
  }
  if (!reach.all && reach.orgUnitIds.length === 1) {
    return { kind: 'school', schoolId: reach.orgUnitIds[0]! };
  }
  if (!reach.all) {
    throw new ApiError(
      'forbidden',
      'Your access covers particular schools: pass ?school=<org unit id> for one of them.',
    );
  }
  return { kind: 'tenant', schoolId: null };
}

/** WHERE conditions selecting rows published for the scope. */
export function scopeConditions(
  scope: PublicationScope,
  columns: { scopeKind: PgColumn; scopeId: PgColumn },
): SQL[] {
  return [
    eq(columns.scopeKind, scope.kind),
    scope.schoolId ? eq(columns.scopeId, scope.schoolId) : isNull(columns.scopeId),
  ];
}
