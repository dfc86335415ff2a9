/**
 * Plans, renders and stores the tenant's pages in the branch's `dashboard_pages`. The worker
 * (`workers/refresh-and-publish.ts`) calls these inside the transaction that publishes the
 * metric snapshots, so pages and figures always come from the same refresh:
 * `renderChangedPages` while the warehouse commits, `planPages` before the snapshot rows are
 * written, `storePlannedPages` after.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Db, type DbSchema, type Tx } from '../db/connection.js';
import { withTenant } from '../db/tenancy.js';
import { orgUnits } from '../db/schema/org.js';
import type { AnySnapshot, MetricName } from '../analytics/metrics/types.js';
import { PAGES, type DashboardPage } from './layout.js';
import { PAGE_METRICS } from './pages.js';
import { type RenderedPage } from './render.js';
import { renderDashboardPagesInThreads } from './render-pool.js';

const TENANT_SCOPE = `'00000000-0000-0000-0000-000000000000'::uuid`;

export interface StoreResult {
  /** Page rows inserted or updated. */
  upserted: number;
  /** Page rows whose inputs did not change since they were stored, left untouched. */
  unchanged: number;
  /** Rows of pages this refresh no longer produced (a school gone), soft-deleted. */
  retired: number;
}

/** Stands for the publishing transaction's own id, newer than any committed one. */
const THIS_TRANSACTION = String(2n ** 63n - 1n);

/** Key of a page × scope: `page|scope id`, the tenant as the zero uuid. */
const pageKey = (page: string, scopeId: string | null) => `${page}|${scopeId ?? ZERO}`;
const ZERO = '00000000-0000-0000-0000-000000000000';

/**
 * Upserts the rendered page × scope rows on `dashboard_pages_key` (live rows), each with its
 * own stamp, and soft-deletes the tenant's live pages of scopes not in `produced`.
 */
export async function storeDashboardPages<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  input: {
    tenantId: string;
    runId: string;
    /** One stamp for every page, or per page and scope (school id, null for the tenant). */
    asOf: string | ((page: DashboardPage, scopeId: string | null) => string);
    pages: readonly RenderedPage[];
    /** Every page × scope of this publication (default: `pages`); live rows of others retire. */
    produced?: readonly { page: string; scopeId: string | null }[];
  },
): Promise<StoreResult> {
  const stamp = (page: DashboardPage, id: string | null) =>
    typeof input.asOf === 'function' ? input.asOf(page, id) : input.asOf;
  for (let i = 0; i < input.pages.length; i += 20) {
    const rows = input.pages.slice(i, i + 20).map(
      (p) =>
        sql`(${input.tenantId}::uuid, ${p.page}, ${p.scopeKind}, ${p.scopeId}::uuid, ${p.html},
             ${stamp(p.page, p.scopeId)}::timestamptz, ${input.runId}::uuid)`,
    );
    await tx.execute(sql`
      insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of, refresh_run_id)
      values ${sql.join(rows, sql`, `)}
      on conflict (tenant_id, page, scope_kind, (coalesce(scope_id, ${sql.raw(TENANT_SCOPE)})))
        where deleted_at is null
      do update set html = excluded.html, as_of = excluded.as_of,
                    refresh_run_id = excluded.refresh_run_id, updated_at = now()`);
  }
  const produced = JSON.stringify(
    (input.produced ?? input.pages).map((p) => ({ page: p.page, scope_id: p.scopeId ?? ZERO })),
  );
  const retired = await tx.execute(sql`
    update dashboard_pages d set deleted_at = now()
     where d.tenant_id = ${input.tenantId}::uuid and d.deleted_at is null
       and not exists (
         select 1 from jsonb_to_recordset(${produced}::jsonb) as k(page text, scope_id uuid)
          where k.page = d.page and k.scope_id = coalesce(d.scope_id, ${sql.raw(TENANT_SCOPE)}))`);
  const upserted = input.pages.length;
  const total = input.produced?.length ?? upserted;
  return { upserted, unchanged: total - upserted, retired: rowCount(retired) };
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

/**
 * What each page × scope depends on, from the branch (inside the publishing transaction):
 * the newest write (`changed_xid`) among its inputs and its stamp.
 *
 * - A page reads the snapshots of its metrics (`PAGE_METRICS`): a school's page those of
 *   the school; the tenant-wide page those of the tenant and of every school (comparisons).
 *   Soft-deleted rows count too (a school's figures retired changes the comparison).
 * - Every page shows names (tenant, schools): any `org_units` write counts for every page.
 * - The stamp ("Data as of") is the newest `as_of` among the live snapshots a page reads:
 *   when the data behind its figures was read for their last change. It changes exactly
 *   when the figures do, so a page left unrendered keeps a true stamp, and an incremental
 *   and a full refresh stamp equal figures alike.
 */
async function pageInputs<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  tenantId: string,
  publishing?: Publishing,
) {
  const groups = rowsOf<{
    scope: string;
    metric: string;
    xid: string;
    as_of: string | Date | null;
  }>(
    await tx.execute(sql`
      select coalesce(scope_id, ${sql.raw(TENANT_SCOPE)})::text as scope, metric,
             max(changed_xid::text::numeric)::text as xid,
             max(as_of) filter (where deleted_at is null) as as_of
        from metric_snapshots where tenant_id = ${tenantId}::uuid group by 1, 2`),
  );
  const [org] = rowsOf<{ xid: string | null }>(
    await tx.execute(sql`
      select max(changed_xid::text::numeric)::text as xid from org_units
       where tenant_id = ${tenantId}::uuid`),
  );
  const stored = rowsOf<{ page: string; scope: string; xid: string }>(
    await tx.execute(sql`
      select page, coalesce(scope_id, ${sql.raw(TENANT_SCOPE)})::text as scope,
             changed_xid::text as xid
        from dashboard_pages where tenant_id = ${tenantId}::uuid and deleted_at is null`),
  );
  if (publishing) {
    // Before the write: the rows about to be rewritten count as written by this transaction
    // (newer than every stored page) with this publication's `as_of` (the newest).
    const byKey = new Map(groups.map((g) => [`${g.scope}|${g.metric}`, g]));
    for (const s of publishing.rewriting) {
      const scope = s.scopeId ?? ZERO;
      const g = byKey.get(`${scope}|${s.metric}`);
      if (g) Object.assign(g, { xid: THIS_TRANSACTION, as_of: publishing.dataAsOf });
      else {
        const added = {
          scope,
          metric: s.metric,
          xid: THIS_TRANSACTION,
          as_of: publishing.dataAsOf,
        };
        groups.push(added);
        byKey.set(`${scope}|${s.metric}`, added);
      }
    }
  }
  const orgXid = BigInt(org?.xid ?? 0);
  const storedXid = new Map(stored.map((r) => [pageKey(r.page, r.scope), BigInt(r.xid)]));
  const read = (page: DashboardPage, scopeId: string | null) =>
    groups.filter(
      (g) =>
        PAGE_METRICS[page].includes(g.metric as MetricName) &&
        (scopeId === null || g.scope === scopeId),
    );
  return {
    /** Newest write among a page's inputs. */
    inputXid: (page: DashboardPage, scopeId: string | null): bigint =>
      read(page, scopeId).reduce((m, g) => (BigInt(g.xid) > m ? BigInt(g.xid) : m), orgXid),
    /** A page's stamp (null: none of its snapshots is live). */
    stamp: (page: DashboardPage, scopeId: string | null): string | null =>
      read(page, scopeId)
        .filter((g) => g.as_of !== null)
        .map((g) => new Date(g.as_of!).toISOString())
        .reduce<string | null>((m, at) => (m === null || at > m ? at : m), null),
    /** The transaction that last wrote a stored page (undefined: none). */
    storedXid: (page: DashboardPage, scopeId: string | null) =>
      storedXid.get(pageKey(page, scopeId)),
  };
}

/**
 * A publication's snapshot rows not written yet (`planPages` before the write): the
 * snapshots it rewrites and the `as_of` they get.
 */
export interface Publishing {
  rewriting: readonly Pick<AnySnapshot, 'metric' | 'scopeId'>[];
  dataAsOf: string;
}

export interface PlanPagesOptions {
  tenantId: string;
  /** Every snapshot of the publication. */
  snapshots: readonly AnySnapshot[];
  /**
   * Render every page, even those whose inputs did not change since they were stored (a
   * full refresh: rendering itself may have changed). Default: only stale pages.
   */
  renderAll?: boolean;
  /** Pages rendered while the warehouse committed (`renderChangedPages`). */
  ahead?: PagesAhead;
  /** Planning before the snapshot rows are written: what the write will change. */
  publishing?: Publishing;
}

type OrgNames = Awaited<ReturnType<typeof readOrgNames>>;

const sameNames = (a: OrgNames, b: OrgNames) => {
  const schools = (n: OrgNames) =>
    JSON.stringify([...n.schools].sort((x, y) => x.id.localeCompare(y.id)));
  return a.tenantName === b.tenantName && schools(a) === schools(b);
};

/** Pages rendered ahead of a publication, while the warehouse commits (`renderChangedPages`). */
export interface PagesAhead {
  /** The names they were rendered with. */
  names: Promise<OrgNames>;
  pages: Promise<RenderedPage[]>;
  /** Their stamp: the publication's `dataAsOf`, as ISO-8601. */
  stamp: string;
  /** `pageKey`s of the pages rendered. */
  keys: ReadonlySet<string>;
  startedAt: number;
}

/**
 * Starts rendering, before the publication (while the warehouse commits), the page × scope
 * rows that read a snapshot this refresh `changed`. Such a page's inputs are about to be
 * rewritten, so it will be stale, stamped with the publication's `dataAsOf` — the newest
 * `as_of` of its inputs. The publication takes a page from here only when its own plan
 * agrees (stale, same stamp, same names); anything else it renders itself. Names are read
 * from the branch in a transaction of their own.
 */
export function renderChangedPages<TSchema extends DbSchema>(
  db: Db<TSchema>,
  input: {
    tenantId: string;
    snapshots: readonly AnySnapshot[];
    changed: readonly Pick<AnySnapshot, 'metric' | 'scopeKind' | 'scopeId'>[];
    dataAsOf: string;
  },
): PagesAhead {
  const keys = new Set<string>();
  for (const s of input.changed) {
    for (const page of PAGES) {
      if (!PAGE_METRICS[page].includes(s.metric)) continue;
      keys.add(pageKey(page, null));
      if (s.scopeKind === 'school' && s.scopeId) keys.add(pageKey(page, s.scopeId));
    }
  }
  const stamp = new Date(input.dataAsOf).toISOString();
  const startedAt = performance.now();
  const names = withTenant(db, input.tenantId, (tx) => readOrgNames(tx, input.tenantId));
  const pages =
    keys.size === 0
      ? Promise.resolve([])
      : names.then((n) =>
          renderDashboardPagesInThreads(input.snapshots, {
            ...n,
            asOf: stamp,
            only: (page, scopeId) => keys.has(pageKey(page, scopeId)),
          }),
        );
  // Unused when the refresh fails before publishing: never an unhandled rejection.
  names.catch(() => undefined);
  pages.catch(() => undefined);
  return { names, pages, stamp, keys, startedAt };
}

/** What a publication renders and stores: the rows, their stamps, every row produced. */
export interface PagePlan {
  pages: Promise<RenderedPage[]>;
  stamp: (page: DashboardPage, scopeId: string | null) => string;
  produced: { page: DashboardPage; scopeId: string | null }[];
  renderMs: () => number;
}

/**
 * Names from the branch → the page × scope rows whose inputs changed since they were stored
 * (`pageInputs`, as they are or as `publishing` is about to leave them) → rendering started
 * on the rendering threads, taking what was rendered `ahead` where it agrees.
 */
export async function planPages<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  options: PlanPagesOptions,
): Promise<PagePlan> {
  const { snapshots } = options;
  const names = await readOrgNames(tx, options.tenantId);
  const inputs = await pageInputs(tx, options.tenantId, options.publishing);
  const fallback = new Date().toISOString();
  const stamps = new Map<string, string>();
  const stamp = (page: DashboardPage, scopeId: string | null) => {
    const key = pageKey(page, scopeId);
    if (!stamps.has(key)) stamps.set(key, inputs.stamp(page, scopeId) ?? fallback);
    return stamps.get(key)!;
  };
  const scopes = [
    null,
    ...new Set(
      snapshots.filter((s) => s.scopeKind === 'school' && s.scopeId).map((s) => s.scopeId!),
    ),
  ];
  const produced = scopes.flatMap((scopeId) => PAGES.map((page) => ({ page, scopeId })));
  const stale = (page: DashboardPage, scopeId: string | null) => {
    if (options.renderAll) return true;
    const stored = inputs.storedXid(page, scopeId);
    return stored === undefined || stored < inputs.inputXid(page, scopeId);
  };
  // Pages rendered ahead are taken when this plan agrees with what they were rendered from.
  const ahead = options.ahead;
  const aheadNames = ahead ? await ahead.names.catch(() => null) : null;
  const takeAhead =
    ahead && aheadNames && sameNames(aheadNames, names)
      ? (page: DashboardPage, scopeId: string | null) =>
          ahead.keys.has(pageKey(page, scopeId)) &&
          stale(page, scopeId) &&
          new Date(stamp(page, scopeId)).toISOString() === ahead.stamp
      : () => false;
  const started = ahead?.startedAt ?? performance.now();
  let finished = 0;
  const render = (only: (page: DashboardPage, scopeId: string | null) => boolean) =>
    renderDashboardPagesInThreads(snapshots, { ...names, asOf: stamp, only });
  const pages = (async () => {
    const [now, rendered] = await Promise.all([
      render((page, scopeId) => stale(page, scopeId) && !takeAhead(page, scopeId)),
      ahead ? ahead.pages.catch(() => null) : [],
    ]);
    // Rendering ahead failed: those pages are rendered now.
    if (rendered === null) return [...now, ...(await render(takeAhead))];
    return [...now, ...rendered.filter((p) => takeAhead(p.page, p.scopeId))];
  })();
  void pages.then(() => (finished = performance.now())).catch(() => undefined);
  return {
    pages,
    stamp,
    produced,
    renderMs: () => Math.round((finished || performance.now()) - started),
  };
}

/** What `storePlannedPages` stored, and how long rendering and storing took. */
export type StoredPages = StoreResult & { renderMs: number; storeMs: number };

/** Waits for a plan's pages and stores them (`storeDashboardPages`); the others stay as they are. */
export async function storePlannedPages<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  plan: PagePlan,
  input: { tenantId: string; runId: string },
): Promise<StoredPages> {
  const pages = await plan.pages;
  const renderMs = plan.renderMs();
  const storing = performance.now();
  const stored = await storeDashboardPages(tx, {
    tenantId: input.tenantId,
    runId: input.runId,
    asOf: plan.stamp,
    pages,
    produced: plan.produced,
  });
  return { ...stored, renderMs, storeMs: Math.round(performance.now() - storing) };
}

function rowCount(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}
