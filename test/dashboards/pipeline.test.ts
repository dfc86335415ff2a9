import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGES } from '../../dashboards/layout.js';
import type { RefreshJobResult } from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { localLocks } from '../../workers/locks.js';
import { runRefresh } from '../../workers/processors/refresh.js';
import { buildWorld, rng, type World } from '../analytics/dataset.js';
import { TenantFixture } from '../analytics/world.js';
import { bearer, Staff } from '../api/staff-fixtures.js';
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
let token: string;
let first: RefreshJobResult;

interface PageRow {
  id: string;
  page: string;
  scope_kind: string;
  scope_id: string | null;
  html: string;
  as_of: Date;
  refresh_run_id: string | null;
  deleted_at: Date | null;
}

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
      `select * from dashboard_pages where tenant_id = $1 and deleted_at is null
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
  const alpha = new TenantFixture(
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
      "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
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

  it('a later refresh updates the pages in place and retires pages it no longer produces', async () => {
    const before = await livePages();
    const stale = randomUUID();
    await admin.query(
      `insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of)
       values ($1, 'overview', 'school', $2, '<p>old</p>', now())`,
      [world.alpha.id, stale],
    );
    const second = await refresh('incremental');
    const after = await livePages();
    expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
    for (const r of after) expect(r.refresh_run_id).toBe(second.runId);
    const old = await admin.query<PageRow>(
      `select * from dashboard_pages where tenant_id = $1 and scope_id = $2`,
      [world.alpha.id, stale],
    );
    expect(old.rows).toHaveLength(1);
    expect(old.rows[0]!.deleted_at).not.toBeNull();
  });
});
