import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../db/platform.js';
import { call, spawnNodeApi, type ApiProcess } from '../support/api.js';
import { ADMIN_PASSWORD, REDIS_URL } from '../support/api-world.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';
import {
  postgresBinDir,
  startThrowawayCluster,
  type ThrowawayCluster,
} from '../support/pg-cluster.js';

/**
 * The API on Node survives its database going away: a server restart (fast and immediate)
 * and terminated backends under load. No process exit, no 5xx but 503 problem+json with
 * Retry-After, no acknowledged write missing, and requests succeed again once it is back.
 */

interface World {
  t: TestEnvironment;
  tenantId: string;
  api: ApiProcess;
  close(): Promise<void>;
}

async function startWorld(label: string, clusterUrl?: string): Promise<World> {
  const t = await createTestEnvironment(label, clusterUrl);
  const tenant = await createTenant(t.env, {
    slug: 'alpha',
    name: 'Alpha Academy',
    domains: ['alpha.test'],
    placement: 'pool',
    adminEmail: 'admin@alpha.test',
    adminPassword: ADMIN_PASSWORD,
    adminName: 'alpha Admin',
    actor: 'test',
  });
  const api = await spawnNodeApi({
    DATABASE_URL: t.env.DATABASE_URL,
    REDIS_URL,
    PLATFORM_DOMAIN: 'localhost',
    PUBLIC_RATE_LIMIT: '1000000',
    METRICS_QUEUE: `test-${randomUUID()}`,
  });
  return {
    t,
    tenantId: tenant.id,
    api,
    async close() {
      await api.close();
      await t.destroy().catch(() => undefined);
    },
  };
}

/** Inquiries from `concurrency` clients at once until `stop()`; every answer is kept. */
function load(world: World, concurrency = 8) {
  const acknowledged: string[] = [];
  const unexpected: string[] = [];
  let unavailable = 0;
  let running = true;
  const client = async () => {
    while (running) {
      // A 503 is retried with the same key and body, as a client would, until it is answered:
      // a write whose commit acknowledgement was lost must then replay, not apply twice.
      const email = `restart.${randomUUID()}@example.org`;
      const key = randomUUID();
      for (;;) {
        try {
          const r = await call(world.api, 'POST', '/v1/public/inquiries', {
            host: 'alpha.test',
            body: { guardian_name: 'Rae Start', email, consent: true },
            headers: { 'idempotency-key': key },
          });
          if (r.status === 201) {
            acknowledged.push(email);
            break;
          }
          if (
            r.status !== 503 ||
            !/^application\/problem\+json/.test(String(r.headers['content-type'])) ||
            !(Number(r.headers['retry-after']) > 0)
          ) {
            unexpected.push(`${r.status} ${String(r.headers['content-type'])} ${r.text}`);
            break;
          }
          unavailable++;
        } catch (err) {
          unexpected.push(`transport: ${(err as Error).message}`);
          if (world.api.exited() !== null) return;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  return {
    acknowledged,
    unexpected,
    unavailable: () => unavailable,
    /** Waits until `n` more inquiries have been acknowledged. */
    async successes(n: number) {
      const target = acknowledged.length + n;
      while (acknowledged.length < target && world.api.exited() === null) {
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

/** Acknowledged inquiries not stored exactly once (as one lead with one touchpoint). */
async function missing(world: World, emails: string[]): Promise<string[]> {
  const db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  try {
    const r = await db.query<{ email: string }>(
      `select l.email from leads l
         join lead_touchpoints t on t.lead_id = l.id and t.tenant_id = l.tenant_id
        where l.tenant_id = $1 and l.email = any($2)
        group by l.id, l.email having count(t.id) = 1`,
      [world.tenantId, emails],
    );
    const found = new Set(r.rows.map((row) => row.email));
    return emails.filter((e) => !found.has(e));
  } finally {
    await db.end();
  }
}

const bin = await postgresBinDir();

describe.skipIf(!bin)('a PostgreSQL restart under load', () => {
  let cluster: ThrowawayCluster;
  let world: World;

  beforeAll(async () => {
    cluster = await startThrowawayCluster(bin!);
    world = await startWorld('pgrestart', cluster.url);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
    await cluster?.destroy();
  });

  it('keeps the API process up, answers 503 with Retry-After meanwhile and loses no acknowledged write', async () => {
    const traffic = load(world);
    await traffic.successes(20);
    for (const mode of ['fast', 'immediate'] as const) {
      await cluster.restart(mode);
      // Requests succeed again once the server is back.
      await traffic.successes(20);
    }
    await traffic.stop();
    expect(world.api.exited(), world.api.output?.()).toBeNull();
    expect(traffic.unexpected).toEqual([]);
    // The restarts did cut requests off: the 503 path was exercised.
    expect(traffic.unavailable()).toBeGreaterThan(0);
    expect(await missing(world, traffic.acknowledged)).toEqual([]);
  }, 180_000);
});

if (!bin) {
  describe('a PostgreSQL restart under load', () => {
    it.skip('needs the server binaries under /usr/lib/postgresql/*/bin (none installed)', () => {});
  });
}

describe('terminated backends under load', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld('pgterminate');
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('keeps the API process up, answers 503 with Retry-After and loses no acknowledged write', async () => {
    const admin = new pg.Client({ connectionString: world.t.adminUrl() });
    await admin.connect();
    const traffic = load(world);
    let terminated = 0;
    try {
      await traffic.successes(20);
      for (let round = 0; round < 10; round++) {
        // Every backend of this environment, busy or idle: the pool's and the control plane's.
        const r = await admin.query<{ ok: boolean }>(
          `select pg_terminate_backend(pid) ok from pg_stat_activity
            where (datname = $1 or datname like $2) and pid <> pg_backend_pid()`,
          [world.t.prefix, `${world.t.prefix}\\_%`],
        );
        terminated += r.rows.filter((row) => row.ok).length;
        await traffic.successes(5);
      }
    } finally {
      await traffic.stop();
      await admin.end();
    }
    expect(terminated).toBeGreaterThan(0);
    expect(world.api.exited(), world.api.output?.()).toBeNull();
    expect(traffic.unexpected).toEqual([]);
    expect(traffic.unavailable()).toBeGreaterThan(0);
    expect(await missing(world, traffic.acknowledged)).toEqual([]);
    // And it still serves.
    const r = await call(world.api, 'POST', '/v1/public/inquiries', {
      host: 'alpha.test',
      body: {
        guardian_name: 'After Math',
        email: `after.${randomUUID()}@example.org`,
        consent: true,
      },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(r.status, r.text).toBe(201);
  }, 180_000);
});
