import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAREHOUSE_TABLES } from '../../analytics/tables.js';
import { createDb, rowsOf, type Db, type DbHandle } from '../../db/connection-node.js';
import { METRIC_INPUT_TABLES } from '../../db/metric-inputs.js';
import { createTenant, tenantBranchOwner } from '../../db/platform.js';
import * as tenantSchema from '../../db/schema/tenant.js';
import { seedTenant } from '../../db/seed/index.js';
import { withTenantTracked } from '../../db/tenancy.js';
import type { AppEnv } from '../../api/app-env.js';
import { createLogger } from '../../db/log.js';
import { bullRefreshQueue, type RefreshQueue } from '../../api/queue.js';
import { sharedRedis } from '../../api/redis.js';
import type { Services } from '../../api/services.js';
import { tenantTransaction } from '../../api/tenancy/middleware.js';
import type { TenantContext } from '../../db/control-plane.js';
import { call, startNodeApi, type ApiTarget } from '../support/api.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';

/**
 * A committed write to any table the warehouse reads enqueues a metrics refresh, whatever
 * route made it: the request's transaction reports what it wrote (from the change stamps
 * on the rows), so no handler has to remember to ask. Real PostgreSQL, Redis and BullMQ.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let t: TestEnvironment;
let tenantId: string;
let handle: DbHandle<typeof tenantSchema>;
let plain: { db: Db<typeof tenantSchema>; pool: pg.Pool };
let redis: ReturnType<typeof sharedRedis>;
let refreshQueue: RefreshQueue;
let queue: Queue;
let queueRedis: Redis;
let app: Hono<AppEnv>;
let api: ApiTarget;
const queueName = `test-refresh-trigger-${randomUUID()}`;

beforeAll(async () => {
  t = await createTestEnvironment('trigger');
  tenantId = (
    await createTenant(t.env, {
      slug: 'gamma',
      name: 'Gamma',
      domains: ['gamma.test'],
      placement: 'pool',
      adminEmail: 'admin@gamma.test',
      adminPassword: 'Correct-Horse-Battery-9',
      actor: 'test',
    })
  ).id;
  const owner = await tenantBranchOwner(t.env, 'gamma');
  await seedTenant({ ownerUrl: owner!.ownerUrl, tenantId, preset: 'small', asOf: '2026-03-02' });

  handle = await createDb({ driver: 'pg', url: t.appUrl('pool'), schema: tenantSchema, max: 2 });
  // The same branch through drizzle's own transaction: the path every driver without a
  // one-round-trip tenant transaction (Neon on workerd, PGlite) takes.
  const pool = new pg.Pool({ connectionString: t.appUrl('pool'), max: 2 });
  plain = { db: drizzle({ client: pool, schema: tenantSchema }), pool };

  const log = createLogger('error');
  redis = sharedRedis(REDIS_URL, log);
  refreshQueue = bullRefreshQueue(redis, { queueName, debounceMs: 60_000, log });
  queueRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(queueName, { connection: queueRedis });

  // The request path's transaction middleware with real services underneath; the handler
  // runs the statement the test names and answers 200, or 409 to have it rolled back.
  const services = { branchDb: async () => handle.db, queue: refreshQueue } as unknown as Services;
  const tenant = { id: tenantId, branchId: 'pool' } as TenantContext;
  app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('services', services);
    c.set('tenant', tenant);
    c.set('commitRefusal', false);
    await next();
  });
  app.use('*', tenantTransaction());
  app.post('/run', async (c) => {
    const { statement, refuse } = await c.req.json<{ statement: string; refuse: boolean }>();
    await c.get('tx').execute(sql.raw(statement));
    return refuse ? c.json({ refused: true }, 409) : c.json({ ok: true }, 200);
  });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  queueRedis?.disconnect();
  await refreshQueue?.close();
  await redis?.close();
  await handle?.close();
  await plain?.pool.end();
  await t?.destroy();
});

/** Jobs waiting (debounced) in the test's queue. */
async function jobs() {
  const found = [...(await queue.getDelayed()), ...(await queue.getWaiting())];
  return found.map((j) => j.data as unknown);
}

async function run(statement: string, refuse = false) {
  const res = await app.request('/run', {
    method: 'POST',
    body: JSON.stringify({ statement, refuse }),
    headers: { 'content-type': 'application/json' },
  });
  return res.status;
}

/** Rewrites one existing row in place (the change-tracking trigger stamps it). */
const touchOne = (table: string) =>
  `update ${table} set tenant_id = tenant_id where id = (select id from ${table} limit 1)`;

describe('metrics refresh after committed writes', () => {
  it('watches exactly the tables the warehouse extracts', () => {
    expect([...METRIC_INPUT_TABLES].sort()).toEqual(WAREHOUSE_TABLES.map((w) => w.name).sort());
  });

  it('has a row in every watched table to write to', async () => {
    const counts = await withTenantTracked(handle.db, tenantId, async (tx) => {
      const out: Record<string, number> = {};
      for (const table of METRIC_INPUT_TABLES) {
        const r = await tx.execute(sql.raw(`select count(*)::int as n from ${table}`));
        out[table] = rowsOf<{ n: number }>(r)[0]!.n;
      }
      return out;
    });
    for (const table of METRIC_INPUT_TABLES) expect(counts.result[table], table).toBeGreaterThan(0);
    expect(counts.metricInputsWritten).toBe(false);
  });

  describe.each(METRIC_INPUT_TABLES.map((table) => ({ table })))('$table', ({ table }) => {
    it('a committed write enqueues a refresh; a rolled-back one does not', async () => {
      await queue.obliterate({ force: true });
      expect(await run(touchOne(table), true)).toBe(409);
      expect(await jobs()).toEqual([]);
      expect(await run(touchOne(table))).toBe(200);
      expect(await jobs()).toEqual([{ tenantId, mode: 'incremental' }]);
    });
  });

  it('a hard delete counts, through its tombstone', async () => {
    await queue.obliterate({ force: true });
    const id = randomUUID();
    await withTenantTracked(handle.db, tenantId, (tx) =>
      tx.execute(
        sql`insert into funnel_stages (tenant_id, id, key, name, position)
            values (${tenantId}, ${id}, ${`probe_${id.slice(0, 8)}`}, 'Probe', 900)`,
      ),
    );
    expect(await run(`delete from funnel_stages where id = '${id}'`)).toBe(200);
    expect(await jobs()).toEqual([{ tenantId, mode: 'incremental' }]);
  });

  it('reads, writes elsewhere and updates that match nothing enqueue nothing', async () => {
    await queue.obliterate({ force: true });
    expect(await run(`select count(*) from students`)).toBe(200);
    expect(
      await run(`update users set tenant_id = tenant_id where id = (select id from users limit 1)`),
    ).toBe(200);
    expect(await run(`update students set tenant_id = tenant_id where false`)).toBe(200);
    expect(await jobs()).toEqual([]);
  });

  it('a write undone by a rolled-back savepoint counts for nothing', async () => {
    for (const db of [handle.db, plain.db]) {
      const tracked = await withTenantTracked(db, tenantId, async (tx) => {
        await tx.execute(sql`savepoint probe`);
        await tx.execute(sql.raw(touchOne('scores')));
        await tx.execute(sql`rollback to savepoint probe`);
        return 'done';
      });
      expect(tracked).toEqual({ result: 'done', metricInputsWritten: false });
    }
  });

  it('both transaction paths report a write and commit it', async () => {
    for (const db of [handle.db, plain.db]) {
      const newest = async () =>
        rowsOf<{ x: string }>(
          (
            await withTenantTracked(db, tenantId, (tx) =>
              tx.execute(sql`select max(changed_xid)::text as x from courses`),
            )
          ).result,
        )[0]!.x;
      const before = await newest();
      const tracked = await withTenantTracked(db, tenantId, (tx) =>
        tx.execute(sql.raw(touchOne('courses'))),
      );
      expect(tracked.metricInputsWritten).toBe(true);
      expect(BigInt(await newest())).toBeGreaterThan(BigInt(before));
    }
  });
});

describe('metrics refresh after writes through the generic resources', () => {
  const host = 'gamma.test';
  let token: string;
  beforeAll(async () => {
    api = await startNodeApi({
      DATABASE_URL: t.env.DATABASE_URL,
      REDIS_URL,
      METRICS_QUEUE: queueName,
      REFRESH_DEBOUNCE_MS: '5000',
    });
    const login = await call(api, 'POST', '/v1/auth/login', {
      host,
      body: { email: 'admin@gamma.test', password: 'Correct-Horse-Battery-9' },
    });
    token = (login.json as { access_token: string }).access_token;
  }, 60_000);

  // A resource, and a field whose own value is written back: an update that changes no
  // figure still rewrites the row, and the refresh it enqueues finds that out cheaply.
  const cases = [
    { path: '/v1/org-units', field: 'name' },
    { path: '/v1/sessions', field: 'name' },
    { path: '/v1/calendars', field: 'note' },
    { path: '/v1/students', field: 'first_name' },
    { path: '/v1/courses', field: 'name' },
    { path: '/v1/classes', field: 'room' },
    { path: '/v1/enrollments', field: 'status' },
    { path: '/v1/school-enrollments', field: 'entry_date' },
  ];
  it.each(cases)('PATCH $path enqueues after commit, not after a refused write', async (r) => {
    const auth = { authorization: `Bearer ${token}` };
    const list = await call(api, 'GET', `${r.path}?limit=1`, { host, headers: auth });
    expect(list.status).toBe(200);
    const row = (list.json as { data: Record<string, unknown>[] }).data[0]!;
    const url = `${r.path}/${String(row.id)}`;
    await queue.obliterate({ force: true });
    const stale = await call(api, 'PATCH', url, {
      host,
      headers: { ...auth, 'if-match': '"1"' },
      body: { [r.field]: row[r.field] },
    });
    expect(stale.status).toBe(412);
    expect(await jobs()).toEqual([]);
    const ok = await call(api, 'PATCH', url, {
      host,
      headers: auth,
      body: { [r.field]: row[r.field] },
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(await jobs()).toEqual([{ tenantId, mode: 'incremental' }]);
  });

  it('a guardian write changes no metric input and enqueues nothing', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const list = await call(api, 'GET', '/v1/guardians?limit=1', { host, headers: auth });
    const row = (list.json as { data: Record<string, unknown>[] }).data[0]!;
    await queue.obliterate({ force: true });
    const ok = await call(api, 'PATCH', `/v1/guardians/${String(row.id)}`, {
      host,
      headers: auth,
      body: { first_name: row.first_name },
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(await jobs()).toEqual([]);
  });
});
