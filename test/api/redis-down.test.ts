import { randomUUID } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { call } from '../support/api.js';
import { Harness } from '../support/harness.js';

/**
 * Redis down, API half (docs/architecture.md#request-path): with Redis unreachable, public writes
 * still commit and answer quickly; the refresh enqueue fails fast and is counted; the rate limit
 * still holds (in memory). REDIS_URL points at a port where nothing listens.
 */

const LIMIT = 5;

async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const h = await Harness.init('redisdown', {
  vars: {
    REDIS_URL: `redis://127.0.0.1:${await deadPort()}`,
    PUBLIC_RATE_LIMIT: String(LIMIT),
    METRICS_QUEUE: `test-${randomUUID()}`,
    // The expected "redis unavailable" warnings would drown the output; counters still count.
    LOG_LEVEL: 'error',
  },
});
const db = await h.setup(() => h.staff.db());

const inquiry = () => ({
  guardian_name: 'Offline Olive',
  email: `down.${randomUUID().slice(0, 8)}@example.org`,
  consent: true,
  utm_source: 'radio',
});

for (const runtime of ['node', 'workerd'] as const) {
  describe(`Redis down on ${runtime}`, () => {
    const target = () => h.target(runtime);
    // Each runtime has its own tenant: the in-memory fallback limiter is per process.
    const tenant = () => h.tenants[runtime === 'node' ? 'alpha' : 'beta'];
    const host = () => tenant().host;

    it('commits inquiries and answers each within 2 s; the failed enqueue is counted', async () => {
      const counters = target().services?.log.counters;
      const failedBefore = counters?.get('enqueue_failed') ?? 0;
      for (let i = 0; i < 3; i++) {
        const body = inquiry();
        const started = performance.now();
        const r = await call(target(), 'POST', '/v1/public/inquiries', {
          host: host(),
          body,
          headers: { 'idempotency-key': randomUUID() },
        });
        const elapsed = performance.now() - started;
        expect(r.status, r.text).toBe(201);
        expect(elapsed).toBeLessThan(2_000);
        const lead = await db.query(
          `select l.id, count(t.id)::int touches
             from leads l join lead_touchpoints t on t.lead_id = l.id and t.tenant_id = l.tenant_id
            where l.tenant_id = $1 and lower(l.email) = lower($2) group by l.id`,
          [tenant().id, body.email],
        );
        expect(lead.rows).toEqual([{ id: r.json.lead_id, touches: 1 }]);
      }
      if (counters) {
        expect(counters.get('enqueue_failed') ?? 0).toBeGreaterThanOrEqual(failedBefore + 3);
        expect(counters.get('rate_limit_fallback') ?? 0).toBeGreaterThanOrEqual(3);
      }
    });

    it('still rate-limits through the in-memory fallback', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT + 1; i++) {
        const r = await call(target(), 'POST', '/v1/public/tours', {
          host: host(),
          body: inquiry(),
        });
        statuses.push(r.status);
        if (r.status === 429) expect(r.headers['retry-after']).toMatch(/^\d+$/);
      }
      expect(statuses).toEqual([...Array<number>(LIMIT).fill(201), 429]);
    });
  });
}
