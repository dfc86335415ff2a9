import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDomain } from '../../db/platform.js';
import { call, type ApiResponse } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * CORS on /v1/public/*: browsers may call only from the tenant's own site and app domains.
 */

let world: ApiWorld;
let db: pg.Client;

beforeAll(async () => {
  world = await createApiWorld('pubcors', {
    vars: { PUBLIC_RATE_LIMIT: '10000', METRICS_QUEUE: `test-${randomUUID()}` },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  // Domains are added before any request, so no cache holds an older answer.
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'www.alpha-site.test',
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'alpha-preview.localhost',
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
  // Claimed but never proven: no one's site until verified.
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'www.alpha-unproven.test',
    purpose: 'site',
    actor: 'test',
  });
  await addDomain(world.t.env, {
    slug: 'beta',
    hostname: 'www.beta-site.test',
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

const preflight = (
  port: number,
  origin: string | undefined,
  path = '/v1/public/inquiries',
  host = 'alpha.test',
) =>
  call({ port }, 'OPTIONS', path, {
    host,
    headers: {
      ...(origin === undefined ? {} : { origin }),
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, idempotency-key',
    },
  });

const inquiry = () => ({
  guardian_name: 'Cora Sites',
  email: `cors.${randomUUID().slice(0, 8)}@example.org`,
  consent: true,
});

const varyOf = (r: ApiResponse) =>
  String(r.headers.vary ?? '')
    .toLowerCase()
    .split(/,\s*/);

const ALLOWED = [
  'https://www.alpha-site.test', // site domain
  'http://www.alpha-site.test', // plain http too
  'https://alpha.test', // the tenant's app domain
  'http://alpha.localhost:5173', // <slug>.<PLATFORM_DOMAIN>, dev port
  'http://alpha-preview.localhost:3000', // a *.localhost site domain with a port
];

const REFUSED = [
  'https://evil.example',
  'https://beta.test', // another tenant's app domain
  'https://www.beta-site.test', // another tenant's site
  'https://www.alpha-unproven.test', // alpha's, but not verified
  'https://www.alpha-site.test:8443', // ports only on localhost names
  'https://www.alpha-site.test.evil.example',
  'https://evil-www.alpha-site.test',
  'https://sub.www.alpha-site.test',
  'null',
  'ftp://www.alpha-site.test',
  'https://www.alpha-site.test/',
  'https://user@www.alpha-site.test',
  'HTTPS://WWW.ALPHA-SITE.TEST',
  'not an origin',
];

for (const runtime of ['node', 'workerd'] as const) {
  describe(`CORS on /v1/public/* on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('answers preflights from the tenant’s own domains with the allowed methods and headers', async () => {
      for (const origin of ALLOWED) {
        const r = await preflight(target().port, origin);
        expect(r.status, `${origin}: ${r.text}`).toBe(204);
        expect(r.headers['access-control-allow-origin']).toBe(origin);
        expect(r.headers['access-control-allow-methods']).toMatch(/\bPOST\b/);
        const allowHeaders = String(r.headers['access-control-allow-headers']).toLowerCase();
        expect(allowHeaders).toContain('content-type');
        expect(allowHeaders).toContain('idempotency-key');
        expect(Number(r.headers['access-control-max-age'])).toBeGreaterThan(0);
        expect(r.headers['access-control-allow-credentials']).toBeUndefined();
        expect(varyOf(r)).toContain('origin');
      }
    });

    it('refuses preflights from any other origin with a 403 problem and no CORS headers', async () => {
      for (const origin of REFUSED) {
        const r = await preflight(target().port, origin);
        expect(r.status, `${origin}: ${r.text}`).toBe(403);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.headers['access-control-allow-origin']).toBeUndefined();
        expect(r.headers['access-control-allow-methods']).toBeUndefined();
      }
      // Alpha's site may not call beta's API.
      const cross = await preflight(
        target().port,
        'https://www.alpha-site.test',
        '/v1/public/tours',
        'beta.test',
      );
      expect(cross.status).toBe(403);
      expect(cross.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('lets an allowed origin post and read the answer, errors included', async () => {
      const origin = 'https://www.alpha-site.test';
      const r = await call(target(), 'POST', '/v1/public/inquiries', {
        host: 'alpha.test',
        body: inquiry(),
        headers: { origin },
      });
      expect(r.status, r.text).toBe(201);
      expect(r.headers['access-control-allow-origin']).toBe(origin);
      const exposed = String(r.headers['access-control-expose-headers']).toLowerCase();
      for (const h of ['retry-after', 'idempotency-replayed', 'x-request-id']) {
        expect(exposed).toContain(h);
      }
      expect(varyOf(r)).toContain('origin');
      const bad = await call(target(), 'POST', '/v1/public/tours', {
        host: 'alpha.test',
        body: { ...inquiry(), consent: false },
        headers: { origin },
      });
      expect(bad.status).toBe(400);
      expect(bad.headers['access-control-allow-origin']).toBe(origin);
    });

    it('refuses a write carrying a foreign Origin before doing anything', async () => {
      for (const origin of ['https://evil.example', 'https://www.beta-site.test', 'null']) {
        const body = inquiry();
        const r = await call(target(), 'POST', '/v1/public/inquiries', {
          host: 'alpha.test',
          body,
          headers: { origin },
        });
        expect(r.status, r.text).toBe(403);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.headers['access-control-allow-origin']).toBeUndefined();
        const found = await db.query(`select 1 from leads where lower(email) = lower($1)`, [
          body.email,
        ]);
        expect(found.rowCount).toBe(0);
      }
    });

    it('serves reads to foreign origins without CORS headers, and requests without Origin as usual', async () => {
      const foreign = await call(target(), 'GET', '/v1/public/profile', {
        host: 'alpha.test',
        headers: { origin: 'https://evil.example' },
      });
      expect(foreign.status).toBe(200);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
      expect(varyOf(foreign)).toContain('origin');
      const server = await call(target(), 'POST', '/v1/public/inquiries', {
        host: 'alpha.test',
        body: inquiry(),
      });
      expect(server.status).toBe(201);
      expect(server.headers['access-control-allow-origin']).toBeUndefined();
      expect(varyOf(server)).toContain('origin');
      const allowed = await call(target(), 'GET', '/v1/public/profile', {
        host: 'alpha.test',
        headers: { origin: 'http://alpha.localhost:5173' },
      });
      expect(allowed.headers['access-control-allow-origin']).toBe('http://alpha.localhost:5173');
    });

    it('answers OPTIONS without Origin with the allowed methods, and unknown hosts with 404', async () => {
      const r = await preflight(target().port, undefined);
      expect(r.status).toBe(204);
      expect(r.headers.allow).toMatch(/POST/);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      const unknown = await preflight(
        target().port,
        'https://www.alpha-site.test',
        '/v1/public/inquiries',
        'nobody.test',
      );
      expect(unknown.status).toBe(404);
      expect(unknown.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('does not serve the tenant on a domain it has not proven, nor answer its preflights', async () => {
      const host = 'www.alpha-unproven.test';
      const profile = await call(target(), 'GET', '/v1/public/profile', { host });
      expect(profile.status, profile.text).toBe(404);
      expect(profile.text).not.toContain('Alpha');
      const r = await preflight(target().port, `https://${host}`, '/v1/public/inquiries', host);
      expect(r.status).toBe(404);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
}
