import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';

/**
 * docs/tenancy-and-security.md#idempotency: Idempotency-Key on the public writes — replay, reuse
 * with another body, concurrent duplicates, error responses not stored, expiry — on Node and in
 * workerd.
 */

const h = await Harness.init('idem', {
  vars: { PUBLIC_RATE_LIMIT: '10000', METRICS_QUEUE: `test-${randomUUID()}` },
});
const { alpha, beta } = h.tenants;
const db = await h.setup(() => h.staff.db());

function inquiry(overrides: Record<string, unknown> = {}) {
  return {
    guardian_name: 'Sam Rivera',
    email: `idem.${randomUUID().slice(0, 8)}@example.org`,
    consent: true,
    utm_source: 'google',
    ...overrides,
  };
}

const post = (
  target: ApiTarget,
  body: unknown,
  key: string | undefined,
  path = '/v1/public/inquiries',
  host = 'alpha.test',
) =>
  call(target, 'POST', path, {
    host,
    body,
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });

async function counts(tenantId: string, address: string) {
  const r = await db.query<{ leads: number; touches: number }>(
    `select count(distinct l.id)::int as leads, count(t.id)::int as touches
       from leads l left join lead_touchpoints t on t.tenant_id = l.tenant_id and t.lead_id = l.id
      where l.tenant_id = $1 and lower(l.email) = lower($2)`,
    [tenantId, address],
  );
  return r.rows[0]!;
}

async function storedKey(tenantId: string, key: string) {
  const r = await db.query(
    `select *, extract(epoch from expires_at - now()) as ttl_seconds
       from idempotency_keys where tenant_id = $1 and key = $2`,
    [tenantId, key],
  );
  return r.rows;
}

function expectProblem(r: ApiResponse, status: number, type: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.json.type).toBe(`https://docs.homeroom.app/problems/${type}`);
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`Idempotency-Key on ${runtime}`, () => {
    const target = () => h.target(runtime);

    it('replays the stored response for the same key and body without doing the work again', async () => {
      const key = randomUUID();
      const body = inquiry();
      const first = await post(target(), body, key);
      expect(first.status, first.text).toBe(201);
      expect(first.headers['idempotency-replayed']).toBeUndefined();
      const again = await post(target(), body, key);
      expect(again.status).toBe(201);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.json).toEqual(first.json);
      expect(await counts(alpha.id, body.email)).toEqual({ leads: 1, touches: 1 });
      const [row, ...more] = await storedKey(alpha.id, key);
      expect(more).toHaveLength(0);
      expect(row).toMatchObject({
        scope: 'public:inquiries',
        response_status: 201,
        response_body: first.json,
      });
      expect(row.request_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(Number(row.ttl_seconds)).toBeGreaterThan(24 * 3600 - 120);
      expect(Number(row.ttl_seconds)).toBeLessThanOrEqual(24 * 3600);
    });

    it('treats the same JSON with other key order and whitespace as the same request', async () => {
      const key = randomUUID();
      const body = inquiry();
      const first = await post(target(), body, key);
      expect(first.status).toBe(201);
      const reordered = Object.fromEntries(Object.entries(body).reverse());
      const raw = JSON.stringify(reordered, null, 2);
      const again = await call(target(), 'POST', '/v1/public/inquiries', {
        host: 'alpha.test',
        rawBody: raw,
        headers: { 'idempotency-key': key },
      });
      expect(again.status, again.text).toBe(201);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.json).toEqual(first.json);
    });

    it('refuses the same key with a different body (422) and changes nothing', async () => {
      const key = randomUUID();
      const body = inquiry();
      expect((await post(target(), body, key)).status).toBe(201);
      const other = inquiry();
      const r = await post(target(), other, key);
      expectProblem(r, 422, 'idempotency_key_reused');
      expect(await counts(alpha.id, other.email)).toEqual({ leads: 0, touches: 0 });
      // A tiny change is a different request too.
      const r2 = await post(target(), { ...body, guardian_name: 'Sam  Rivera' }, key);
      expectProblem(r2, 422, 'idempotency_key_reused');
      expect(await counts(alpha.id, body.email)).toEqual({ leads: 1, touches: 1 });
    });

    it('lets concurrent duplicates do the work exactly once: one lead, one touchpoint', async () => {
      const key = randomUUID();
      const body = inquiry();
      const results = await Promise.all(Array.from({ length: 6 }, () => post(target(), body, key)));
      for (const r of results) expect(r.status, r.text).toBe(201);
      expect(new Set(results.map((r) => r.json.lead_id)).size).toBe(1);
      const replayed = results.filter((r) => r.headers['idempotency-replayed'] === 'true');
      expect(replayed).toHaveLength(5);
      expect(await counts(alpha.id, body.email)).toEqual({ leads: 1, touches: 1 });
      expect(await storedKey(alpha.id, key)).toHaveLength(1);
    });

    it('does not store error responses: a corrected retry with the same key succeeds', async () => {
      const key = randomUUID();
      const body = inquiry();
      const invalid = await post(target(), { ...body, consent: false }, key);
      expectProblem(invalid, 400, 'validation_failed');
      const unknownSchool = await post(target(), { ...body, school_id: randomUUID() }, key);
      expectProblem(unknownSchool, 422, 'unprocessable');
      expect(await storedKey(alpha.id, key)).toHaveLength(0);
      const ok = await post(target(), body, key);
      expect(ok.status, ok.text).toBe(201);
      expect(ok.headers['idempotency-replayed']).toBeUndefined();
      expect(await counts(alpha.id, body.email)).toEqual({ leads: 1, touches: 1 });
    });

    it('lets an expired key be used again, for another request', async () => {
      const key = randomUUID();
      const first = inquiry();
      expect((await post(target(), first, key)).status).toBe(201);
      await db.query(
        `update idempotency_keys set expires_at = now() - interval '1 second'
          where tenant_id = $1 and key = $2`,
        [alpha.id, key],
      );
      const second = inquiry();
      const r = await post(target(), second, key);
      expect(r.status, r.text).toBe(201);
      expect(r.headers['idempotency-replayed']).toBeUndefined();
      expect(await counts(alpha.id, second.email)).toEqual({ leads: 1, touches: 1 });
      const rows = await storedKey(alpha.id, key);
      expect(rows).toHaveLength(1);
      expect(rows[0].response_body).toEqual(r.json);
      expect(Number(rows[0].ttl_seconds)).toBeGreaterThan(3600);
    });

    it('scopes keys per operation and per tenant', async () => {
      const key = randomUUID();
      const body = inquiry();
      const a = await post(target(), body, key);
      const tour = await post(target(), body, key, '/v1/public/tours');
      const b = await post(target(), body, key, '/v1/public/inquiries', 'beta.test');
      for (const r of [a, tour, b]) {
        expect(r.status, r.text).toBe(201);
        expect(r.headers['idempotency-replayed']).toBeUndefined();
      }
      expect(b.json.lead_id).not.toBe(a.json.lead_id);
      expect(await counts(alpha.id, body.email)).toEqual({ leads: 1, touches: 2 });
      expect(await counts(beta.id, body.email)).toEqual({ leads: 1, touches: 1 });
    });

    it('refuses malformed keys with 400 before any work', async () => {
      const body = inquiry();
      for (const key of ['', 'has space', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
        const r = await post(target(), body, key);
        expectProblem(r, 400, 'bad_request');
        expect(r.json.invalid_params[0].name).toBe('header.idempotency-key');
      }
      expect(await counts(alpha.id, body.email)).toEqual({ leads: 0, touches: 0 });
      // 255 visible characters is the longest key.
      const longest = await post(target(), body, randomUUID().padEnd(255, '~'));
      expect(longest.status, longest.text).toBe(201);
    });

    it('works without a key (it is optional on public endpoints)', async () => {
      const body = inquiry();
      const r = await post(target(), body, undefined);
      expect(r.status).toBe(201);
      expect(r.headers['idempotency-replayed']).toBeUndefined();
    });
  });
}
