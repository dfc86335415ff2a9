import { asc, isNull } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';

/** One stage of a tenant's admissions funnel. */
export interface FunnelStage {
  key: string;
  position: number;
  terminal: boolean;
}

/** A tenant's funnel as configured (`funnel_stages`), ordered by position. */
export interface Funnel {
  stages: readonly FunnelStage[];
  byKey: ReadonlyMap<string, FunnelStage>;
}

/** A stage change decided by {@link forwardMove}. */
export interface StageMove {
  from: string;
  to: string;
  /** The lead was `lost` and comes back into the funnel. */
  reopened: boolean;
}

export const ENTRY_STAGE = 'inquiry';

export async function loadFunnel(tx: Tx<TenantSchema>): Promise<Funnel> {
  const rows = await tx
    .select({
      key: t.funnelStages.key,
      position: t.funnelStages.position,
      terminal: t.funnelStages.isTerminal,
    })
    .from(t.funnelStages)
    .where(isNull(t.funnelStages.deletedAt))
    .orderBy(asc(t.funnelStages.position));
  return funnelOf(rows);
}

/** How long a public write may use a tenant's funnel before reading it again. */
const FUNNEL_TTL_MS = 30_000;
const FUNNEL_CACHE_MAX = 10_000;
const funnels = new Map<string, { funnel: Funnel; expires: number }>();

/**
 * The funnel for automatic touches (public inquiries and tours), cached per tenant for
 * {@link FUNNEL_TTL_MS}: it is configuration read by every public write, and a change to
 * it reaches those writes within the TTL. Staff stage moves read it fresh.
 */
export async function loadFunnelCached(tx: Tx<TenantSchema>, tenantId: string): Promise<Funnel> {
  const now = Date.now();
  const hit = funnels.get(tenantId);
  if (hit && hit.expires > now) return hit.funnel;
  const funnel = await loadFunnel(tx);
  if (funnels.size >= FUNNEL_CACHE_MAX) funnels.clear();
  funnels.set(tenantId, { funnel, expires: now + FUNNEL_TTL_MS });
  return funnel;
}

export function funnelOf(stages: readonly FunnelStage[]): Funnel {
  const sorted = [...stages].sort((a, b) => a.position - b.position);
  return { stages: sorted, byKey: new Map(sorted.map((s) => [s.key, s])) };
}

/**
 * The stage a new lead enters at: `inquiry`, or the first open stage of a tenant that
 * renamed it.
 */
export function entryStage(funnel: Funnel): string {
  if (funnel.byKey.has(ENTRY_STAGE)) return ENTRY_STAGE;
  return funnel.stages.find((s) => !s.terminal)?.key ?? ENTRY_STAGE;
}

/**
 * Whether an automatic event (an inquiry, a tour request) moves a lead at `current` to
 * `target`. Leads only move forward, by funnel position; a `lost` lead is reopened, because
 * a family that writes again is a live lead again and staff must see it in the pipeline.
 * A lead at a stage the funnel no longer has, or at another terminal stage, stays put:
 * without a position there is no "forward" to be sure of.
 */
export function forwardMove(funnel: Funnel, current: string, target: string): StageMove | null {
  if (current === target) return null;
  const to = funnel.byKey.get(target);
  if (!to || to.terminal) return null;
  if (current === t.LOST_STAGE) return { from: current, to: target, reopened: true };
  const from = funnel.byKey.get(current);
  if (!from || from.terminal) return null;
  return to.position > from.position ? { from: current, to: target, reopened: false } : null;
}
