import { and, asc, eq, gte, lte, sql } from 'drizzle-orm';
import * as control from '../schema/control.js';
import type { ControlDb, PlatformDeps } from './deps.js';
import { tenantBySlug } from './directory.js';

/** Per-tenant API call counters on the control plane: written by the API, read by operators. */

/** Kinds of API call counted per tenant and day. */
export type UsageKind = 'public' | 'api' | 'write';

export interface UsageCount {
  tenantId: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  kind: UsageKind;
  count: number;
}

/**
 * Adds counts to the daily usage counters in one statement. Rows are sorted so that two
 * writers upserting overlapping keys lock them in the same order and cannot deadlock.
 */
export async function addUsage(db: ControlDb, counts: UsageCount[]): Promise<void> {
  const rows = counts
    .filter((c) => c.count > 0)
    .sort((a, b) =>
      `${a.tenantId}|${a.day}|${a.kind}`.localeCompare(`${b.tenantId}|${b.day}|${b.kind}`),
    );
  if (rows.length === 0) return;
  const u = control.apiUsage;
  await db
    .insert(u)
    .values(rows)
    .onConflictDoUpdate({
      target: [u.tenantId, u.day, u.kind],
      set: { count: sql`${u.count} + excluded.count`, updatedAt: sql`now()` },
    });
}

/** A tenant's daily usage counters between two days (inclusive), by day and kind. */
export async function tenantUsage(
  deps: Pick<PlatformDeps, 'control'>,
  input: { slug: string; from: string; to: string },
): Promise<{ tenantId: string; rows: { day: string; kind: string; count: number }[] }> {
  const tenant = await tenantBySlug(deps.control, input.slug);
  const u = control.apiUsage;
  const rows = await deps.control
    .select({ day: u.day, kind: u.kind, count: u.count })
    .from(u)
    .where(and(eq(u.tenantId, tenant.id), gte(u.day, input.from), lte(u.day, input.to)))
    .orderBy(asc(u.day), asc(u.kind));
  return { tenantId: tenant.id, rows };
}
