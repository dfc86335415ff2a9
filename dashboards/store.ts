/**
 * Stores rendered pages in the tenant branch's `dashboard_pages`, inside the transaction that
 * publishes the metric snapshots (`publishSnapshots`' `afterPublish`), so pages and figures
 * always come from the same refresh.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { DbSchema, Tx } from '../db/connection.js';
import { orgUnits } from '../db/schema/org.js';
import type { AnySnapshot } from '../analytics/metrics/types.js';
import { renderDashboardPages, type RenderedPage } from './render.js';

const TENANT_SCOPE = `'00000000-0000-0000-0000-000000000000'::uuid`;

export interface StoreResult {
  /** Page rows inserted or updated. */
  upserted: number;
  /** Rows of pages this refresh no longer produced (a school gone), soft-deleted. */
  retired: number;
}

/**
 * Upserts each page × scope on `dashboard_pages_key` (live rows) and soft-deletes the
 * tenant's pages of other runs, mirroring how the snapshots themselves are published.
 */
export async function storeDashboardPages<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  input: { tenantId: string; runId: string; asOf: string; pages: readonly RenderedPage[] },
): Promise<StoreResult> {
  let upserted = 0;
  for (let i = 0; i < input.pages.length; i += 20) {
    const rows = input.pages.slice(i, i + 20).map(
      (p) =>
        sql`(${input.tenantId}::uuid, ${p.page}, ${p.scopeKind}, ${p.scopeId}::uuid, ${p.html},
             ${input.asOf}::timestamptz, ${input.runId}::uuid)`,
    );
    await tx.execute(sql`
      insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of, refresh_run_id)
      values ${sql.join(rows, sql`, `)}
      on conflict (tenant_id, page, scope_kind, (coalesce(scope_id, ${sql.raw(TENANT_SCOPE)})))
        where deleted_at is null
      do update set html = excluded.html, as_of = excluded.as_of,
                    refresh_run_id = excluded.refresh_run_id, updated_at = now()`);
    upserted += rows.length;
  }
  const retired = await tx.execute(sql`
    update dashboard_pages set deleted_at = now()
     where tenant_id = ${input.tenantId}::uuid and deleted_at is null
       and refresh_run_id is distinct from ${input.runId}::uuid`);
  return { upserted, retired: rowCount(retired) };
}

/** The tenant's name (its root org unit) and its schools' names, from the branch. */
export async function readOrgNames<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  tenantId: string,
): Promise<{ tenantName: string; schools: { id: string; name: string }[] }> {
  const units = await tx
    .select({ id: orgUnits.id, name: orgUnits.name, parentId: orgUnits.parentId })
    .from(orgUnits)
    .where(and(eq(orgUnits.tenantId, tenantId), isNull(orgUnits.deletedAt)));
  const root = units.find((u) => u.parentId === null);
  return {
    tenantName: root?.name ?? 'Dashboards',
    schools: units.filter((u) => u !== root).map((u) => ({ id: u.id, name: u.name })),
  };
}

export interface DashboardPublisherOptions {
  tenantId: string;
  runId: string;
  /** `metric_snapshots.as_of` of the publication: when the data was read. */
  dataAsOf: string | Date;
  /** Receives what was stored (for the refresh's log line). */
  onStored?: (result: StoreResult & { renderMs: number }) => void;
}

/** An `afterPublish` hook: names from the branch → render every page × scope → store. */
export function dashboardPublisher<TSchema extends DbSchema>(
  options: DashboardPublisherOptions,
): (tx: Tx<TSchema>, snapshots: readonly AnySnapshot[]) => Promise<void> {
  return async (tx, snapshots) => {
    const asOf = new Date(options.dataAsOf).toISOString();
    const names = await readOrgNames(tx, options.tenantId);
    const started = performance.now();
    const pages = renderDashboardPages(snapshots, { ...names, asOf });
    const renderMs = Math.round(performance.now() - started);
    const stored = await storeDashboardPages(tx, {
      tenantId: options.tenantId,
      runId: options.runId,
      asOf,
      pages,
    });
    options.onStored?.({ ...stored, renderMs });
  };
}

function rowCount(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}
