import { afterAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../db/platform.js';
import { BUNDLED_TENANT_SCHEMA_VERSION } from '../../db/tenants/schema-version.js';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { ADMIN_PASSWORD } from '../support/api-world.js';
import { startProofServer, type ProofServer } from '../support/domain-proofs.js';
import { withAdmin } from '../support/environment.js';
import { Harness } from '../support/harness.js';
import { bearer, eventually, expectProblem, Staff } from '../support/staff.js';

/**
 * The Platform API (/v1/platform/*) on Node and in workerd: only on the operator tenant's
 * hosts, only for its platform admins; provisioning, domains, suspension, usage.
 */

const RUNTIMES = ['node', 'workerd'] as const;
const OPS = 'ops.homeroom.test';

const proofs = await startProofServer();
afterAll(() => proofs.close());
const h = await Harness.init('platform_api', {
  vars: { DNS_RESOLVER_URL: proofs.resolverUrl, DOMAIN_VERIFY_FILE_URL: proofs.fileUrl },
});
const { staff, world } = h;
const { alpha } = h.tenants;
const operator = await h.setup(() =>
  createTenant(world.t.env, {
    slug: 'homeroom',
    name: 'Homeroom Operations',
    domains: [OPS],
    placement: 'pool',
    adminEmail: 'ops@homeroom.test',
    adminPassword: ADMIN_PASSWORD,
    platformAdmin: true,
    actor: 'test',
  }),
);
const adminToken = await h.setup(() => staff.token(operator.id, operator.adminUserId));

const control = <T>(sql: string, params: unknown[] = []) =>
  withAdmin((c) => c.query(sql, params).then((r) => r.rows as T[]), world.t.prefix);

for (const runtime of RUNTIMES) {
  describe(`platform API on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const api = (
      method: string,
      path: string,
      options: { host?: string; token?: string | null; body?: unknown } = {},
    ): Promise<ApiResponse> =>
      call(target(), method, path, {
        host: options.host ?? OPS,
        headers: options.token === null ? {} : bearer(options.token ?? adminToken),
        ...(options.body === undefined ? {} : { body: options.body }),
      });
    const slug = (name: string) => `${name}-${runtime}`;
    const createBody = (name: string, over: Record<string, unknown> = {}) => ({
      slug: slug(name),
      name: `${name} Academy`,
      placement: 'pool',
      domains: [`${slug(name)}.example.org`],
      admin: {
        email: `head@${slug(name)}.example.org`,
        password: ADMIN_PASSWORD,
        name: 'Pat Head',
      },
      ...over,
    });

    it('lists every tenant to a platform admin', async () => {
      const r = await api('GET', '/v1/platform/tenants');
      expect(r.status, r.text).toBe(200);
      const slugs = r.json.data.map((t: { slug: string }) => t.slug);
      expect(slugs).toEqual(expect.arrayContaining(['alpha', 'beta', 'homeroom']));
      expect(r.json.data.find((t: { slug: string }) => t.slug === 'alpha')).toMatchObject({
        status: 'active',
        placement: 'pool',
        domains: ['alpha.test'],
      });
    });

    it('is not there on a school’s host: the same 404 as a path with no route', async () => {
      const alphaAdmin = await staff.token(alpha.id, alpha.adminUserId);
      const hidden = await api('GET', '/v1/platform/tenants', {
        host: 'alpha.test',
        token: alphaAdmin,
      });
      const missing = await api('GET', '/v1/platform-nothing', {
        host: 'alpha.test',
        token: alphaAdmin,
      });
      expectProblem(hidden, 404, 'not_found');
      expectProblem(missing, 404, 'not_found');
      expect(hidden.json.detail).toBe('No route for GET /v1/platform/tenants.');
      expect(Object.keys(hidden.json).sort()).toEqual(Object.keys(missing.json).sort());
      // Not even a platform admin's token unlocks it on another tenant's host.
      const r = await api('POST', '/v1/platform/tenants', {
        host: 'beta.localhost',
        body: createBody('sneaky'),
      });
      expectProblem(r, 404, 'not_found');
    });

    it('refuses anonymous callers (401) and users without platform_admin (403)', async () => {
      expectProblem(
        await api('GET', '/v1/platform/tenants', { token: null }),
        401,
        'unauthenticated',
      );
      const networkAdmin = await staff.person(operator.id, [{ role: 'network_admin' }]);
      const r = await api('GET', '/v1/platform/tenants', { token: networkAdmin.token });
      expectProblem(r, 403, 'forbidden');
      // Another tenant's token on the operator's host is rejected outright.
      const alphaAdmin = await staff.token(alpha.id, alpha.adminUserId);
      expectProblem(
        await api('GET', '/v1/platform/tenants', { token: alphaAdmin }),
        401,
        'unauthenticated',
      );
    });

    it('creates a tenant that answers at <slug>.localhost, audited with the request id', async () => {
      const r = await api('POST', '/v1/platform/tenants', { body: createBody('maple') });
      expect(r.status, r.text).toBe(201);
      expect(r.json).toMatchObject({
        slug: slug('maple'),
        name: 'maple Academy',
        status: 'active',
        plan: 'school',
        placement: 'pool',
        branch: 'pool',
        domains: [`${slug('maple')}.example.org`],
      });
      expect(r.headers.location).toBe(`/v1/platform/tenants/${slug('maple')}`);

      for (const host of [`${slug('maple')}.localhost`, `${slug('maple')}.example.org`]) {
        const profile = await call(target(), 'GET', '/v1/public/profile', { host });
        expect(profile.status, profile.text).toBe(200);
        expect(profile.json.name).toBe('maple Academy');
      }

      // The first admin exists with network_admin and can be authenticated on the new host.
      const token = await staff.token(r.json.id, r.json.admin_user_id);
      const leads = await call(target(), 'GET', '/v1/leads', {
        host: `${slug('maple')}.localhost`,
        headers: bearer(token),
      });
      expect(leads.status, leads.text).toBe(200);
      const login = await call(target(), 'POST', '/v1/auth/login', {
        host: `${slug('maple')}.localhost`,
        body: { email: `head@${slug('maple')}.example.org`, password: ADMIN_PASSWORD },
      });
      // The login endpoint is built in parallel; once it exists, it must accept the admin.
      if (login.status !== 404) expect(login.status, login.text).toBe(200);

      const audit = await control<{ actor: string; action: string; request_id: string }>(
        `select actor, action, request_id from platform_audit_log where tenant_id = $1`,
        [r.json.id],
      );
      expect(audit).toEqual([
        {
          actor: operator.adminUserId,
          action: 'tenant.create',
          request_id: r.headers['x-request-id'],
        },
      ]);
    });

    it('creates a dedicated tenant on a branch copied from the template', async () => {
      const r = await api('POST', '/v1/platform/tenants', {
        body: createBody('oak', { placement: 'dedicated', plan: 'network' }),
      });
      expect(r.status, r.text).toBe(201);
      expect(r.json).toMatchObject({
        placement: 'dedicated',
        branch: `t-${slug('oak')}`,
        plan: 'network',
      });
      expect(await world.t.databases()).toContain(`${world.t.prefix}_t_oak_${runtime}`);
      const [branch] = await control<{ status: string; schema_version: string }>(
        `select status, schema_version from branches where name = $1`,
        [`t-${slug('oak')}`],
      );
      expect(branch).toEqual({ status: 'ready', schema_version: BUNDLED_TENANT_SCHEMA_VERSION });
      const profile = await call(target(), 'GET', '/v1/public/profile', {
        host: `${slug('oak')}.localhost`,
      });
      expect(profile.status, profile.text).toBe(200);
      const token = await staff.token(r.json.id, r.json.admin_user_id, {
        branch: `t_oak_${runtime}`,
      });
      const leads = await call(target(), 'GET', '/v1/leads', {
        host: `${slug('oak')}.localhost`,
        headers: bearer(token),
      });
      expect(leads.status, leads.text).toBe(200);
    });

    it('refuses duplicates with 409 and invalid input with 422, naming the field', async () => {
      const cases: [Record<string, unknown>, number, string, string][] = [
        [{ slug: 'alpha' }, 409, 'conflict', 'body.slug'],
        [{ domains: ['ALPHA.test'] }, 409, 'conflict', 'body.domains'],
        [
          { admin: { email: 'a@weak.example.org', password: 'password123' } },
          422,
          'unprocessable',
          'body.admin.password',
        ],
        [{ plan: 'platinum' }, 422, 'unprocessable', 'body.plan'],
        [{ slug: 'homeroom' }, 422, 'unprocessable', 'body.slug'],
        [{ slug: 'Bad_Slug' }, 422, 'unprocessable', 'body.slug'],
        [{ domains: ['https://x.example.org/'] }, 422, 'unprocessable', 'body.domains'],
      ];
      const before = await control<{ n: number }>(`select count(*)::int as n from tenants`);
      for (const [over, status, code, field] of cases) {
        const r = await api('POST', '/v1/platform/tenants', { body: createBody('birch', over) });
        expectProblem(r, status, code);
        expect(r.json.invalid_params?.map((p: { name: string }) => p.name)).toEqual([field]);
      }
      // Malformed bodies never reach provisioning.
      const bad = await api('POST', '/v1/platform/tenants', { body: { slug: 'x', extra: 1 } });
      expectProblem(bad, 400, 'validation_failed');
      expect(await control(`select count(*)::int as n from tenants`)).toEqual(before);
    });

    it('suspends a tenant (its hosts answer 403 at once) and reactivates it (200 again)', async () => {
      const created = await api('POST', '/v1/platform/tenants', { body: createBody('cedar') });
      expect(created.status, created.text).toBe(201);
      const hosts = [`${slug('cedar')}.localhost`, `${slug('cedar')}.example.org`];
      for (const host of hosts) {
        expect((await call(target(), 'GET', '/v1/public/profile', { host })).status).toBe(200);
      }
      const suspended = await api('POST', `/v1/platform/tenants/${slug('cedar')}/suspend`);
      expect(suspended.status, suspended.text).toBe(200);
      expect(suspended.json.status).toBe('suspended');
      for (const host of hosts) {
        expectProblem(
          await call(target(), 'GET', '/v1/public/profile', { host }),
          403,
          'tenant_suspended',
        );
      }
      const reactivated = await api('POST', `/v1/platform/tenants/${slug('cedar')}/reactivate`);
      expect(reactivated.json.status).toBe('active');
      for (const host of hosts) {
        expect((await call(target(), 'GET', '/v1/public/profile', { host })).status).toBe(200);
      }
      const actions = await control<{ action: string }>(
        `select action from platform_audit_log where tenant_id = $1 order by id`,
        [created.json.id],
      );
      expect(actions.map((a) => a.action)).toEqual([
        'tenant.create',
        'tenant.suspend',
        'tenant.reactivate',
      ]);
      expectProblem(
        await api('POST', '/v1/platform/tenants/homeroom/suspend'),
        422,
        'unprocessable',
      );
      expectProblem(
        await api('POST', '/v1/platform/tenants/nobody-here/suspend'),
        404,
        'not_found',
      );
    });

    it('adds a domain unverified: it serves and passes CORS only once its token is found in DNS', async () => {
      const host = `apply.${slug('maple')}.example.org`;
      // Looked up (and negatively cached) before it exists…
      expectProblem(await call(target(), 'GET', '/v1/public/profile', { host }), 404, 'not_found');
      // …and not yet one of the tenant's site origins (CORS), also cached.
      const fromSite = () =>
        call(target(), 'GET', '/v1/public/profile', {
          host: `${slug('maple')}.localhost`,
          headers: { origin: `https://${host}` },
        });
      const before = await fromSite();
      expect(before.status, before.text).toBe(200);
      expect(before.headers['access-control-allow-origin']).toBeUndefined();
      const maple = (await api('GET', `/v1/platform/tenants/${slug('maple')}`)).json;
      const school = await staff.school(maple.id, `Maple ${runtime} Elementary`);
      const r = await api('POST', `/v1/platform/tenants/${slug('maple')}/domains`, {
        body: { hostname: host.toUpperCase(), school_id: school },
      });
      expect(r.status, r.text).toBe(201);
      const token: string = r.json.verification?.token;
      expect(token).toMatch(/^homeroom-verify-[A-Za-z0-9_-]{22}$/);
      expect(r.json).toEqual({
        hostname: host,
        tenant_id: maple.id,
        school_id: school,
        purpose: 'site',
        verified_at: null,
        verification: {
          token,
          txt_name: `_homeroom-verify.${host}`,
          file_urls: [proofs.fileUrl.replace('{host}', host)],
        },
        verify_url: `/v1/platform/tenants/${slug('maple')}/domains/${host}/verify`,
      });

      // Claimed, not proven: the host serves nobody and is no site of the tenant.
      expectProblem(await call(target(), 'GET', '/v1/public/profile', { host }), 404, 'not_found');
      expect((await fromSite()).headers['access-control-allow-origin']).toBeUndefined();
      const early = await api('POST', r.json.verify_url);
      expectProblem(early, 422, 'unprocessable');
      proofs.txt.set(`_homeroom-verify.${host}`, ['someone-else-token']);
      expectProblem(await api('POST', r.json.verify_url), 422, 'unprocessable');
      expectProblem(await call(target(), 'GET', '/v1/public/profile', { host }), 404, 'not_found');

      // Published in DNS: verified, and served right away (the platform call cleared the cache).
      proofs.txt.set(`_homeroom-verify.${host}`, ['v=spf1 -all', token]);
      const verified = await api('POST', r.json.verify_url);
      expect(verified.status, verified.text).toBe(200);
      expect(verified.json).toMatchObject({ hostname: host, method: 'dns', verification: null });
      expect(Date.parse(verified.json.verified_at)).toBeGreaterThan(Date.now() - 600_000);
      const profile = await call(target(), 'GET', '/v1/public/profile', { host });
      expect(profile.status, profile.text).toBe(200);
      expect(profile.json.school?.id).toBe(school);
      expect((await fromSite()).headers['access-control-allow-origin']).toBe(`https://${host}`);
      // Verifying again changes nothing.
      const again = await api('POST', r.json.verify_url);
      expect(again.json).toMatchObject({ method: null, verified_at: verified.json.verified_at });
      const shown = (await api('GET', `/v1/platform/tenants/${slug('maple')}`)).json;
      expect(shown.domain_details).toContainEqual(
        expect.objectContaining({ hostname: host, verified_at: verified.json.verified_at }),
      );
      const audit = await control<{ action: string; after: { method: string } }>(
        `select action, after from platform_audit_log where entity_id = $1 order by id`,
        [host],
      );
      expect(audit).toEqual([
        expect.objectContaining({ action: 'tenant.add_domain' }),
        { action: 'tenant.verify_domain', after: { hostname: host, method: 'dns' } },
      ]);

      const dup = await api('POST', `/v1/platform/tenants/${slug('maple')}/domains`, {
        body: { hostname: 'alpha.test' },
      });
      expectProblem(dup, 409, 'conflict');
      const foreign = await api('POST', `/v1/platform/tenants/${slug('maple')}/domains`, {
        body: { hostname: `x.${slug('maple')}.example.org`, school_id: alpha.rootOrgUnitId },
      });
      expectProblem(foreign, 422, 'unprocessable');
      expect(foreign.json.invalid_params[0].name).toBe('body.school_id');
    });

    it('verifies a domain by the proof file on its site, and only for the tenant that added it', async () => {
      const host = `www.${slug('maple')}.example.org`;
      const r = await api('POST', `/v1/platform/tenants/${slug('maple')}/domains`, {
        body: { hostname: host },
      });
      expect(r.status, r.text).toBe(201);
      // Another tenant cannot verify (or learn about) it.
      expectProblem(
        await api('POST', `/v1/platform/tenants/alpha/domains/${host}/verify`),
        404,
        'not_found',
      );
      proofs.files.set(host, 'not the token');
      expectProblem(await api('POST', r.json.verify_url), 422, 'unprocessable');
      proofs.files.set(host, `${r.json.verification.token}\n`);
      const verified = await api('POST', r.json.verify_url);
      expect(verified.status, verified.text).toBe(200);
      expect(verified.json.method).toBe('http');
      const profile = await call(target(), 'GET', '/v1/public/profile', { host });
      expect(profile.status, profile.text).toBe(200);
      expectProblem(
        await api('POST', `/v1/platform/tenants/${slug('maple')}/domains/nowhere.test/verify`),
        404,
        'not_found',
      );
    });

    it('counts usage per tenant and day by kind, written off the request path', async () => {
      const created = await api('POST', '/v1/platform/tenants', { body: createBody('usage') });
      expect(created.status, created.text).toBe(201);
      const host = `${slug('usage')}.localhost`;
      for (let i = 0; i < 3; i++) await call(target(), 'GET', '/v1/public/profile', { host });
      for (let i = 0; i < 2; i++) await call(target(), 'GET', '/v1/leads', { host });
      const usage = await eventually(async () => {
        const r = await api('GET', `/v1/platform/tenants/${slug('usage')}/usage`);
        expect(r.status, r.text).toBe(200);
        expect(r.json.totals).toEqual({ public: 3, api: 2, write: 0 });
        return r.json;
      });
      const today = new Date().toISOString().slice(0, 10);
      expect(usage).toMatchObject({ slug: slug('usage'), to: today });
      expect(usage.data).toEqual([
        { day: today, kind: 'api', count: 2 },
        { day: today, kind: 'public', count: 3 },
      ]);

      // Successful writes also count as `write` (here: the operator tenant's own calls).
      const writes = async () =>
        (await api('GET', '/v1/platform/tenants/homeroom/usage')).json.totals.write as number;
      const before = await writes();
      await api('POST', `/v1/platform/tenants/${slug('usage')}/suspend`);
      await eventually(async () => expect(await writes()).toBeGreaterThanOrEqual(before + 1));

      const bad = await api(
        'GET',
        `/v1/platform/tenants/${slug('usage')}/usage?from=2026-02-01&to=2026-01-01`,
      );
      expectProblem(bad, 400, 'validation_failed');
      expectProblem(await api('GET', '/v1/platform/tenants/nobody-here/usage'), 404, 'not_found');
    });

    it('refuses a dedicated tenant while the template is behind the code, leaving nothing', async () => {
      const template = `${world.t.prefix}_template`;
      const saved = await withAdmin(
        (c) =>
          c
            .query(`delete from drizzle.__drizzle_migrations returning hash, created_at`)
            .then((r) => r.rows),
        template,
      );
      try {
        const r = await api('POST', '/v1/platform/tenants', {
          body: createBody('stale', { placement: 'dedicated' }),
        });
        expectProblem(r, 503, 'unavailable');
        expect(r.json.detail).toMatch(/run npm run db:migrate/);
        expect(await world.t.databases()).not.toContain(`${world.t.prefix}_t_stale_${runtime}`);
        expect(
          await control(`select 1 from branches where name = $1`, [`t-${slug('stale')}`]),
        ).toEqual([]);
        expect(await control(`select 1 from tenants where slug = $1`, [slug('stale')])).toEqual([]);
      } finally {
        await withAdmin(async (c) => {
          for (const row of saved) {
            await c.query(
              `insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)`,
              [row.hash, row.created_at],
            );
          }
        }, template);
      }
    });
  });
}
