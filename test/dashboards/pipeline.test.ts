import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotKey } from '../../analytics/metrics/index.js';
import type { AnySnapshot } from '../../analytics/metrics/types.js';
import { PAGES, type DashboardPage } from '../../dashboards/layout.js';
import { PAGE_METRICS } from '../../dashboards/pages.js';
import type { RenderedPage } from '../../dashboards/render.js';
import { readOrgNames, type PagesAhead } from '../../dashboards/store.js';
import { withTenant } from '../../db/tenancy.js';
import type { RefreshJobResult } from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { localLocks } from '../../workers/locks.js';
import { runRefresh } from '../../workers/processors/refresh.js';
import { publishFiguresAndPages } from '../../workers/refresh-and-publish.js';
import { buildWorld, mutate, rng, type World } from '../analytics/dataset.js';
import { TenantFixture } from '../analytics/world.js';
import { bearer, Staff } from '../support/staff.js';
import { call } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';
import { recordingLogger } from '../workers/support.js';

// A real refresh (PostgreSQL → DuckDB → metrics → publish) stores every dashboard page in
// the publishing transaction, and the API serves what it stored.

let world: ApiWorld;
let staff: Staff;
let admin: pg.Client;
let dir: string;
let directory: ControlPlane;
let tenant: World;
let alpha: TenantFixture;
let token: string;
let first: RefreshJobResult;

const ZERO = '00000000-0000-0000-0000-000000000000';

interface PageRow {
  id: string;
  page: string;
  scope_kind: string;
  scope_id: string | null;
  html: string;
  as_of: Date;
  refresh_run_id: string | null;
  changed_xid: string;
  updated_at: Date;
  deleted_at: Date | null;
}

interface SnapshotRow {
  id: string;
  metric: string;
  scope_id: string | null;
  period: string;
  payload: unknown;
  as_of: Date;
  refresh_run_id: string | null;
  changed_xid: string;
  updated_at: Date;
}

const liveSnapshots = async () =>
  (
    await admin.query<SnapshotRow>(
      `select id, metric, scope_id, period, payload, as_of, refresh_run_id,
              changed_xid::text as changed_xid, updated_at
         from metric_snapshots where tenant_id = $1 and deleted_at is null
        order by metric, scope_id nulls first, period`,
      [world.alpha.id],
    )
  ).rows;

const refresh = (mode: 'full' | 'incremental') =>
  runRefresh(
    {
      directory,
      locks: localLocks(),
      warehouseDir: dir,
      log: recordingLogger(),
      duckdb: { threads: 1 },
    },
    { tenantId: world.alpha.id, mode },
  );

const livePages = async () =>
  (
    await admin.query<PageRow>(
      `select *, changed_xid::text as changed_xid from dashboard_pages
        where tenant_id = $1 and deleted_at is null
        order by page, scope_id nulls first`,
      [world.alpha.id],
    )
  ).rows;

beforeAll(async () => {
  world = await createApiWorld('dash_pipeline', { runtimes: ['node'] });
  staff = await Staff.open(world);
  dir = await mkdtemp(join(tmpdir(), 'hr-dash-'));
  admin = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await admin.connect();
  alpha = new TenantFixture(
    world.alpha.id,
    world.alpha.rootOrgUnitId,
    world.t.appUrl('pool'),
    dir,
    admin,
  );
  tenant = await buildWorld(alpha, rng(11));
  directory = new ControlPlane(world.t.env);
  token = await staff.token(world.alpha.id, world.alpha.adminUserId);
  first = await refresh('full');
}, 180_000);

afterAll(async () => {
  await directory?.close();
  await admin?.end().catch(() => undefined);
  await staff?.close();
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('dashboards in the refresh pipeline', () => {
  it('stores every page for the tenant and each school, from the same run as the figures', async () => {
    const rows = await livePages();
    const scopes = (
      await admin.query<{ scope_id: string | null }>(
        `select distinct scope_id from metric_snapshots where tenant_id = $1 and deleted_at is null`,
        [world.alpha.id],
      )
    ).rows.map((r) => r.scope_id);
    expect(new Set(scopes)).toEqual(new Set([null, ...tenant.schools]));
    expect(rows.map((r) => `${r.page}:${r.scope_id ?? 'tenant'}`).sort()).toEqual(
      PAGES.flatMap((p) => [null, ...tenant.schools].map((s) => `${p}:${s ?? 'tenant'}`)).sort(),
    );
    for (const r of rows) {
      expect(r.refresh_run_id).toBe(first.runId);
      expect(r.as_of.toISOString()).toBe(new Date(first.dataAsOf).toISOString());
      expect(r.scope_kind).toBe(r.scope_id ? 'school' : 'tenant');
      expect(r.html).toContain(
        `Data as of <time datetime="${new Date(first.dataAsOf).toISOString()}">`,
      );
      expect(r.html).not.toMatch(/<script/i);
      expect(r.html).not.toMatch(/NaN|undefined/);
    }
    // School names come from the branch's org units; the tenant's from its root unit.
    const north = rows.find((r) => r.page === 'attendance' && r.scope_id === tenant.schools[0]);
    expect(north!.html).toContain('<h1>Attendance <span class="muted">· North</span></h1>');
    const overview = rows.find((r) => r.page === 'overview' && r.scope_id === null)!;
    expect(overview.html).toContain('Alpha Academy');
    expect(overview.html).toMatch(/<th scope="row">South<\/th>/);
    expect(overview.html).toMatch(/<svg [^>]*role="img"/);
  });

  it('serves the stored overview at GET /dashboards/overview, and a school page', async () => {
    const target = world.targets[0]!;
    const r = await call(target, 'GET', '/dashboards/overview', {
      host: 'alpha.test',
      headers: bearer(token),
    });
    expect(r.status, r.text).toBe(200);
    expect(r.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    const stored = (await livePages()).find((p) => p.page === 'overview' && p.scope_id === null)!;
    expect(r.text).toBe(stored.html);
    const school = await call(target, 'GET', `/dashboards/finance?school=${tenant.schools[1]}`, {
      host: 'alpha.test',
      headers: bearer(token),
    });
    expect(school.status, school.text).toBe(200);
    expect(school.text).toContain('Finance &amp; ESA <span class="muted">· South</span>');
    const index = await call(target, 'GET', '/dashboards', {
      host: 'alpha.test',
      headers: { ...bearer(token), accept: 'application/json' },
    });
    expect(index.json.data).toHaveLength(PAGES.length * 3);
  });

  it('a later refresh leaves unchanged pages in place and retires pages it no longer produces', async () => {
    const before = await livePages();
    const stale = randomUUID();
    await admin.query(
      `insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of)
       values ($1, 'overview', 'school', $2, '<p>old</p>', now())`,
      [world.alpha.id, stale],
    );
    const second = await refresh('incremental');
    expect(second.mode).toBe('incremental');
    // Nothing changed: no snapshot and no page is rewritten.
    expect(second.published).toMatchObject({ upserted: 0, retired: 0 });
    const after = await livePages();
    expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
    for (const [i, r] of after.entries()) {
      expect(r.refresh_run_id).toBe(first.runId);
      expect(r.changed_xid).toBe(before[i]!.changed_xid);
      expect(r.html).toBe(before[i]!.html);
    }
    const old = await admin.query<PageRow>(
      `select * from dashboard_pages where tenant_id = $1 and scope_id = $2`,
      [world.alpha.id, stale],
    );
    expect(old.rows).toHaveLength(1);
    expect(old.rows[0]!.deleted_at).not.toBeNull();
  });

  it("re-renders only the pages whose figures changed, leaving other schools' rows untouched, and stores what a full refresh would", async () => {
    const [north, south] = [tenant.schools[0]!, tenant.schools[1]!];
    const pagesBefore = await livePages();
    const snapsBefore = await liveSnapshots();
    const flipped = await admin.query(
      `update attendance_records
          set status = case when status = 'absent' then 'present' else 'absent' end
        where tenant_id = $1 and id in (
          select id from attendance_records
           where tenant_id = $1 and school_id = $2 and deleted_at is null and period is null
           order by md5(id::text) limit 5)`,
      [world.alpha.id, north],
    );
    expect(flipped.rowCount).toBe(5);
    const inc = await refresh('incremental');
    expect(inc.mode).toBe('incremental');
    const pagesInc = await livePages();
    const snapsInc = await liveSnapshots();

    // South: every snapshot and page row exactly as before (same transaction, same time).
    const same = <T extends { id: string; changed_xid: string; updated_at: Date }>(
      a: T[],
      b: T[],
      scope: string,
    ) => {
      const pick = (rows: T[]) =>
        rows
          .filter((r) => (r as unknown as { scope_id: string | null }).scope_id === scope)
          .map((r) => [r.id, r.changed_xid, r.updated_at.toISOString()]);
      expect(pick(b)).toEqual(pick(a));
      expect(pick(a).length).toBeGreaterThan(0);
    };
    same(snapsBefore, snapsInc, south);
    same(pagesBefore, pagesInc, south);
    // North's attendance and the tenant's changed: those pages were re-rendered, stamped
    // with this run's data-as-of; North's untouched metrics kept their rows.
    const changedSnaps = snapsInc.filter(
      (r) => r.changed_xid !== snapsBefore.find((b) => b.id === r.id)?.changed_xid,
    );
    expect(new Set(changedSnaps.map((r) => r.metric))).toEqual(new Set(['attendance']));
    expect(new Set(changedSnaps.map((r) => r.scope_id))).toEqual(new Set([null, north]));
    for (const r of changedSnaps) expect(r.refresh_run_id).toBe(inc.runId);
    // Pages reading attendance (overview, attendance) of North and the tenant were re-rendered
    // and stamped with this run's data-as-of; the others were left as they were.
    const stamp = new Date(inc.dataAsOf).toISOString();
    const firstStamp = new Date(first.dataAsOf).toISOString();
    let rendered = 0;
    for (const p of pagesInc) {
      const old = pagesBefore.find((b) => b.id === p.id)!;
      if (p.scope_id !== south && PAGE_METRICS[p.page as DashboardPage].includes('attendance')) {
        rendered++;
        expect(p.refresh_run_id).toBe(inc.runId);
        expect(p.as_of.toISOString()).toBe(stamp);
        expect(p.html).toContain(`Data as of <time datetime="${stamp}">`);
      } else {
        expect([p.changed_xid, p.refresh_run_id, p.html]).toEqual([
          old.changed_xid,
          old.refresh_run_id,
          old.html,
        ]);
        expect(p.html).toContain(`Data as of <time datetime="${firstStamp}">`);
      }
    }
    expect(rendered).toBe(4);

    // A full refresh re-renders every page from scratch: the same figures, the same HTML.
    const full = await refresh('full');
    expect(full.mode).toBe('full');
    expect(full.published).toMatchObject({ upserted: 0, retired: 0 });
    const snapsFull = await liveSnapshots();
    expect(snapsFull.map((r) => [r.id, r.changed_xid, r.payload, r.as_of])).toEqual(
      snapsInc.map((r) => [r.id, r.changed_xid, r.payload, r.as_of]),
    );
    const pagesFull = await livePages();
    expect(pagesFull.map((r) => [r.id, r.html, r.as_of.toISOString()])).toEqual(
      pagesInc.map((r) => [r.id, r.html, r.as_of.toISOString()]),
    );
    for (const p of pagesFull) expect(p.refresh_run_id).toBe(full.runId);
  });
  it('after random changes publishes exactly the figures and pages a full refresh does', async () => {
    const r = rng(12);
    for (let round = 1; round <= 2; round++) {
      await mutate(alpha, r, tenant, round);
      const inc = await refresh('incremental');
      expect(inc.mode).toBe('incremental');
      const snaps = await liveSnapshots();
      const pages = await livePages();
      const full = await refresh('full');
      // Nothing left to write: the incremental publication already held the full figures.
      expect(full.published, `round ${round}`).toMatchObject({ upserted: 0, retired: 0 });
      const snapsFull = await liveSnapshots();
      expect(snapsFull.map((x) => [x.id, x.changed_xid, x.payload, x.as_of])).toEqual(
        snaps.map((x) => [x.id, x.changed_xid, x.payload, x.as_of]),
      );
      const pagesFull = await livePages();
      expect(pagesFull.map((x) => [x.page, x.scope_id, x.html, x.as_of.toISOString()])).toEqual(
        pages.map((x) => [x.page, x.scope_id, x.html, x.as_of.toISOString()]),
      );
    }
  });

  it('publishes figures and pages in one transaction: a failure storing the pages leaves the figures as they were', async () => {
    const north = tenant.schools[0]!;
    await admin.query(
      `update attendance_records
          set status = case when status = 'absent' then 'present' else 'absent' end
        where tenant_id = $1 and id in (
          select id from attendance_records
           where tenant_id = $1 and school_id = $2 and deleted_at is null and period is null
           order by md5(id::text) desc limit 3)`,
      [world.alpha.id, north],
    );
    const snapsBefore = await liveSnapshots();
    const pagesBefore = await livePages();
    await admin.query(`
      create function pages_refused() returns trigger language plpgsql as
        $$ begin raise exception 'pages refused'; end $$;
      create trigger pages_refused before insert or update on dashboard_pages
        for each row execute function pages_refused();`);
    try {
      const failed = await refresh('incremental').catch((err: Error) => err);
      expect((failed as Error).cause).toMatchObject({ message: 'pages refused' });
    } finally {
      await admin.query(`drop trigger pages_refused on dashboard_pages;
                         drop function pages_refused();`);
    }
    expect(await liveSnapshots()).toEqual(snapsBefore);
    expect(await livePages()).toEqual(pagesBefore);
    // The warehouse committed: the next run publishes the figures it holds, with their pages.
    const again = await refresh('incremental');
    expect(again.published.upserted).toBeGreaterThan(0);
    const rendered = (await livePages()).filter((p) => p.refresh_run_id === again.runId);
    expect(rendered.map((p) => `${p.page}|${p.scope_id}`).sort()).toEqual(
      PAGES.filter((p) => PAGE_METRICS[p].includes('attendance'))
        .flatMap((page) => [`${page}|${north}`, `${page}|null`])
        .sort(),
    );
  });

  it('takes pages rendered ahead only when its own plan agrees with them', async () => {
    const north = tenant.schools[0]!;
    const tenantRow = (await directory.tenant(world.alpha.id))!;
    const { db } = await directory.branch(tenantRow.branchId);
    const names = await withTenant(db, world.alpha.id, (tx) => readOrgNames(tx, world.alpha.id));
    const rows = await liveSnapshots();
    const asOf = (await refresh('incremental')).asOf;
    const snapshots = rows.map(
      (r) =>
        ({
          metric: r.metric,
          scopeKind: r.scope_id ? 'school' : 'tenant',
          scopeId: r.scope_id,
          period: r.period,
          asOf,
          payload: r.payload,
        }) as AnySnapshot,
    );
    // North's attendance snapshots are republished by a new run: the overview and attendance
    // pages of North and of the tenant are stale; the pages rendered ahead claim to be those four.
    const stale = PAGES.filter((p) => PAGE_METRICS[p].includes('attendance')).flatMap((page) =>
      [null, north].map((scopeId) => ({ page, scopeId })),
    );
    const publish = async (
      ahead: Omit<PagesAhead, 'keys' | 'startedAt'>,
      dataAsOf = ahead.stamp,
    ) => {
      const runId = randomUUID();
      const payloadRuns = Object.fromEntries(
        rows.map((r, i) => [
          snapshotKey(snapshots[i]!),
          r.metric === 'attendance' && r.scope_id === north ? runId : r.refresh_run_id!,
        ]),
      );
      await publishFiguresAndPages(db, {
        tenantId: world.alpha.id,
        runId,
        snapshots,
        payloadRuns,
        dataAsOf,
        ahead: {
          ...ahead,
          keys: new Set(stale.map((a) => `${a.page}|${a.scopeId ?? ZERO}`)),
          startedAt: performance.now(),
        },
      });
      const pages = (await livePages()).filter((p) => p.refresh_run_id === runId);
      expect(pages.map((p) => `${p.page}|${p.scope_id}`).sort()).toEqual(
        stale.map((a) => `${a.page}|${a.scopeId}`).sort(),
      );
      return pages;
    };
    const bogus = (marker: string): Promise<RenderedPage[]> =>
      Promise.resolve(
        stale.map((a) => ({
          ...a,
          scopeKind: a.scopeId ? ('school' as const) : ('tenant' as const),
          html: `<p>${marker}</p>`,
        })),
      );
    const rendered = (pages: PageRow[], stamp: string) => {
      for (const p of pages) {
        expect(p.html).toContain(`Data as of <time datetime="${stamp}">`);
        expect(p.html).toContain('Alpha Academy');
      }
    };
    const at = (s: number) => new Date(Date.now() + s * 1000).toISOString();

    // Other names than the branch's: rendered again.
    let stamp = at(1);
    const renamed = { ...names, tenantName: 'Somewhere Else' };
    rendered(await publish({ names: Promise.resolve(renamed), pages: bogus('a'), stamp }), stamp);
    // Rendering ahead failed: rendered now.
    stamp = at(2);
    const failed = Promise.reject(new Error('thread gone'));
    failed.catch(() => undefined);
    rendered(await publish({ names: Promise.resolve(names), pages: failed, stamp }), stamp);
    // Another stamp than the publication's: rendered again.
    stamp = at(3);
    const other = await publish(
      { names: Promise.resolve(names), pages: bogus('c'), stamp: at(9) },
      stamp,
    );
    rendered(other, stamp);
    // All agree: the pages rendered ahead are what is stored.
    stamp = at(4);
    const taken = await publish({ names: Promise.resolve(names), pages: bogus('d'), stamp });
    expect(taken.map((p) => p.html)).toEqual(stale.map(() => '<p>d</p>'));

    // A full refresh renders every page again.
    await refresh('full');
    for (const p of await livePages()) expect(p.html).toContain('Alpha Academy');
  });
});
