import { randomUUID } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../db/platform.js';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { ADMIN_PASSWORD, createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * docs/tenancy-and-security.md#rate-limits-and-body-size: the public endpoints rate-limit per
 * tenant and client IP (429 with Retry-After) and refuse oversized bodies (413). PUBLIC_RATE_LIMIT
 * is 5 here.
 */

const LIMIT = 5;
let world: ApiWorld;
let db: pg.Client;

beforeAll(async () => {
  world = await createApiWorld('publim', {
    vars: { PUBLIC_RATE_LIMIT: String(LIMIT), METRICS_QUEUE: `test-${randomUUID()}` },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

/**
 * A tenant of its own per test: both runtimes reach the API from 127.0.0.1, so sharing a
 * tenant would share its buckets.
 */
async function freshTenant(): Promise<{ id: string; host: string }> {
  const slug = `rl-${randomUUID().slice(0, 8)}`;
  const t = await createTenant(world.t.env, {
    slug,
    name: `Limit ${slug}`,
    domains: [`${slug}.test`],
    placement: 'pool',
    adminEmail: `admin@${slug}.test`,
    adminPassword: ADMIN_PASSWORD,
    actor: 'test',
  });
  return { id: t.id, host: `${slug}.test` };
}

const inquiry = () => ({
  guardian_name: 'Rate Tester',
  email: `rl.${randomUUID().slice(0, 8)}@example.org`,
  consent: true,
});

function expectProblem(r: ApiResponse, status: number, type: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.json.type).toBe(`https://docs.homeroom.app/problems/${type}`);
}

async function leadCount(tenantId: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    `select count(*)::int n from leads where tenant_id = $1`,
    [tenantId],
  );
  return r.rows[0]!.n;
}

/** A POST whose body arrives chunked, without Content-Length. */
function chunkedPost(target: ApiTarget, host: string, path: string, chunks: string[]) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>(
    (resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: target.port,
          method: 'POST',
          path,
          headers: { host, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      // The server may answer 413 and close before every chunk is written.
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    },
  );
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`public limits on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('answers 429 with Retry-After after PUBLIC_RATE_LIMIT inquiries, and stores nothing more', async () => {
      const tenant = await freshTenant();
      for (let i = 0; i < LIMIT; i++) {
        const r = await call(target(), 'POST', '/v1/public/inquiries', {
          host: tenant.host,
          body: inquiry(),
        });
        expect(r.status, r.text).toBe(201);
        expect(r.headers['ratelimit-limit']).toBe(String(LIMIT));
        expect(r.headers['ratelimit-remaining']).toBe(String(LIMIT - 1 - i));
      }
      const r = await call(target(), 'POST', '/v1/public/inquiries', {
        host: tenant.host,
        body: inquiry(),
      });
      expectProblem(r, 429, 'rate_limited');
      const retryAfter = Number(r.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await leadCount(tenant.id)).toBe(LIMIT);

      // Tours have their own bucket; another tenant is not affected at all.
      const tour = await call(target(), 'POST', '/v1/public/tours', {
        host: tenant.host,
        body: inquiry(),
      });
      expect(tour.status, tour.text).toBe(201);
      const other = await freshTenant();
      const elsewhere = await call(target(), 'POST', '/v1/public/inquiries', {
        host: other.host,
        body: inquiry(),
      });
      expect(elsewhere.status, elsewhere.text).toBe(201);
    });

    it('counts refused requests too, so invalid floods are limited as well', async () => {
      const tenant = await freshTenant();
      for (let i = 0; i < LIMIT; i++) {
        const r = await call(target(), 'POST', '/v1/public/tours', {
          host: tenant.host,
          rawBody: '{',
        });
        expect(r.status).toBe(400);
      }
      const r = await call(target(), 'POST', '/v1/public/tours', {
        host: tenant.host,
        body: inquiry(),
      });
      expectProblem(r, 429, 'rate_limited');
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
    });

    it('gives the profile read a higher limit than the writes', async () => {
      const tenant = await freshTenant();
      for (let i = 0; i < LIMIT * 2; i++) {
        const r = await call(target(), 'GET', '/v1/public/profile', { host: tenant.host });
        expect(r.status, r.text).toBe(200);
      }
      const r = await call(target(), 'GET', '/v1/public/profile', { host: tenant.host });
      expect(r.headers['ratelimit-limit']).toBe(String(LIMIT * 10));
    });

    it('refuses an oversized body with 413, declared or chunked, and stores nothing', async () => {
      const tenant = await freshTenant();
      const huge = { ...inquiry(), message: 'x'.repeat(70 * 1024) };
      const r = await call(target(), 'POST', '/v1/public/inquiries', {
        host: tenant.host,
        body: huge,
      });
      expectProblem(r, 413, 'payload_too_large');
      const body = JSON.stringify({ ...inquiry(), message: 'y'.repeat(70 * 1024) });
      const chunks = body.match(/[\s\S]{1,8192}/g)!;
      const chunked = await chunkedPost(target(), tenant.host, '/v1/public/tours', chunks);
      expect(chunked.status, chunked.text).toBe(413);
      expect(chunked.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await leadCount(tenant.id)).toBe(0);
    });
  });
}
