import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { bearer, expectProblem } from '../support/staff.js';

/** GET /v1/metrics/{metric} on Node and in workerd: published snapshots, scope, refusals. */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';
const AS_OF = '2026-02-01T06:00:00.000Z';
const EARLIER = '2026-01-31T06:00:00.000Z';

const h = await Harness.init('metrics_api');
const { staff } = h;

async function snapshot(
  tenantId: string,
  metric: string,
  scopeId: string | null,
  period: string,
  payload: unknown,
  asOf = AS_OF,
) {
  await (
    await staff.db()
  ).query(
    `insert into metric_snapshots (tenant_id, metric, scope_kind, scope_id, period, payload, as_of)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [
      tenantId,
      metric,
      scopeId ? 'school' : 'tenant',
      scopeId,
      period,
      JSON.stringify(payload),
      asOf,
    ],
  );
}

const { north, south, adminToken } = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, 'North Campus');
  const south = await staff.school(a, 'South Campus');
  await snapshot(a, 'lead_funnel', null, '2025-26', { reached: { inquiry: 120, enrolled: 18 } });
  await snapshot(
    a,
    'lead_funnel',
    null,
    '2026-01',
    { reached: { inquiry: 30, enrolled: 4 } },
    EARLIER,
  );
  await snapshot(a, 'attendance', north, '2025-26', { ada: 0.934, chronic: 0.18 });
  await snapshot(a, 'attendance', south, '2025-26', { ada: 0.911, chronic: 0.24 });
  await snapshot(h.tenants.beta.id, 'lead_funnel', null, '2025-26', { reached: { inquiry: 999 } });
  const adminToken = await h.admin('alpha');
  return { north, south, adminToken };
});

for (const runtime of RUNTIMES) {
  describe(`GET /v1/metrics on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const get = (
      path: string,
      token: string | null = adminToken,
      host = ALPHA,
    ): Promise<ApiResponse> =>
      call(target(), 'GET', path, { host, headers: token ? bearer(token) : {} });

    it('serves the latest published snapshots of the whole tenant to leadership', async () => {
      const r = await get('/v1/metrics/lead_funnel');
      expect(r.status, r.text).toBe(200);
      expect(r.json).toEqual({
        metric: 'lead_funnel',
        scope: { kind: 'tenant', school_id: null },
        as_of: AS_OF,
        snapshots: [
          {
            period: '2025-26',
            as_of: AS_OF,
            refresh_run_id: null,
            payload: { reached: { inquiry: 120, enrolled: 18 } },
          },
          {
            period: '2026-01',
            as_of: EARLIER,
            refresh_run_id: null,
            payload: { reached: { inquiry: 30, enrolled: 4 } },
          },
        ],
      });
      const one = await get('/v1/metrics/lead_funnel?period=2026-01');
      expect(one.json.snapshots.map((s: { period: string }) => s.period)).toEqual(['2026-01']);
      expect(one.json.as_of).toBe(EARLIER);
    });

    it('serves one school with ?school=, within the caller’s reach only', async () => {
      const r = await get(`/v1/metrics/attendance?school=${north}`);
      expect(r.status, r.text).toBe(200);
      expect(r.json.scope).toEqual({ kind: 'school', school_id: north });
      expect(r.json.snapshots[0].payload).toEqual({ ada: 0.934, chronic: 0.18 });

      const principal = await staff.person(h.tenants.alpha.id, [
        { role: 'principal', orgUnitId: north },
      ]);
      const own = await get(`/v1/metrics/attendance?school=${north}`, principal.token);
      expect(own.status, own.text).toBe(200);
      // Another school looks exactly like one with nothing published.
      const other = await get(`/v1/metrics/attendance?school=${south}`, principal.token);
      const none = await get(`/v1/metrics/esa?school=${north}`, principal.token);
      expectProblem(other, 404, 'not_found');
      expectProblem(none, 404, 'not_found');
      expect(other.json.detail).toBe(none.json.detail);
      // A one-school principal reads their school without naming it.
      const implicit = await get('/v1/metrics/attendance', principal.token);
      expect(implicit.status, implicit.text).toBe(200);
      expect(implicit.json.scope).toEqual({ kind: 'school', school_id: north });
      // The network-wide view needs network-wide reach.
      const twoSchools = await staff.person(h.tenants.alpha.id, [
        { role: 'principal', orgUnitId: north },
        { role: 'principal', orgUnitId: south },
      ]);
      expectProblem(await get('/v1/metrics/lead_funnel', twoSchools.token), 403, 'forbidden');
    });

    it('answers 404 until something is published, and for an unknown metric', async () => {
      const r = await get('/v1/metrics/esa');
      expectProblem(r, 404, 'not_found');
      expect(r.json.detail).toMatch(/not.*published/i);
      expectProblem(await get('/v1/metrics/lead_funnel?period=1999-00'), 404, 'not_found');
      expectProblem(await get('/v1/metrics/weather'), 404, 'not_found');
      expectProblem(await get('/v1/metrics/attendance?school=north'), 400, 'validation_failed');
    });

    it('refuses teachers and parents (403), anonymous callers and other tenants’ tokens (401)', async () => {
      for (const role of ['teacher', 'parent', 'office_admin']) {
        const p = await staff.person(h.tenants.alpha.id, [{ role }]);
        expectProblem(await get('/v1/metrics/lead_funnel', p.token), 403, 'forbidden');
      }
      expectProblem(await get('/v1/metrics/lead_funnel', null), 401, 'unauthenticated');
      const betaAdmin = await h.admin('beta');
      expectProblem(await get('/v1/metrics/lead_funnel', betaAdmin), 401, 'unauthenticated');
      // Each tenant sees its own figures only.
      const beta = await get('/v1/metrics/lead_funnel', betaAdmin, 'beta.test');
      expect(beta.json.snapshots.map((s: { payload: unknown }) => s.payload)).toEqual([
        { reached: { inquiry: 999 } },
      ]);
    });
  });
}
