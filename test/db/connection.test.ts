import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDb,
  isConnectionLoss,
  rowsOf,
  type Db,
  type DbHandle,
  type Tx,
} from '../../db/connection-node.js';
import { withTenant } from '../../db/tenancy.js';
import { isLoopbackTarget, startWsProxy, type WsProxy } from '../../db/ws-proxy.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dbTarget = new URL(DATABASE_URL);
const dbHost = dbTarget.hostname.replace(/^\[(.*)\]$/, '$1');
const dbPort = Number(dbTarget.port || 5432);

let proxy: WsProxy;

beforeAll(async () => {
  // A DATABASE_URL on another host (a CI service container) is allowed by name, and only it.
  proxy = await startWsProxy({
    port: 0,
    allow: (host, port) => isLoopbackTarget(host) || (host === dbHost && port === dbPort),
  });
});

afterAll(async () => {
  await proxy?.close();
});

interface DriverCase {
  name: 'pg' | 'neon' | 'pglite';
  /** Opens a handle whose pool holds at most one connection. */
  open: (onPoolError?: (error: Error) => void) => Promise<DbHandle>;
}

const drivers: DriverCase[] = [
  {
    name: 'pg',
    open: (onPoolError) => createDb({ driver: 'pg', url: DATABASE_URL, max: 1, onPoolError }),
  },
  {
    name: 'neon',
    open: (onPoolError) =>
      createDb({
        driver: 'neon',
        url: DATABASE_URL,
        wsProxy: `127.0.0.1:${proxy.port}`,
        max: 1,
        onPoolError,
      }),
  },
  { name: 'pglite', open: () => createDb({ driver: 'pglite' }) },
];

/** The first row of a query, on a database or inside a transaction. */
async function one<TRow extends Record<string, unknown>>(
  db: Db | Tx,
  query: ReturnType<typeof sql>,
): Promise<TRow> {
  const row = rowsOf<TRow>(await db.execute(query))[0];
  if (!row) throw new Error('expected one row');
  return row;
}

type Setting = { tenant_id: string | null; pid: number };
const readTenant = sql`select current_setting('app.tenant_id', true) as tenant_id, pg_backend_pid() as pid`;

describe.each(drivers)('createDb with the $name driver', ({ name, open }) => {
  let handle: DbHandle;

  beforeAll(async () => {
    handle = await open();
  });

  afterAll(async () => {
    await handle?.close();
  });

  it('reports its driver and answers select 1', async () => {
    expect(handle.driver).toBe(name);
    const row = await one<{ one: number }>(handle.db, sql`select 1 as one`);
    expect(Number(row.one)).toBe(1);
  });

  it('keeps set_config(…, true) inside its transaction on a reused connection', async () => {
    const tenantId = randomUUID();
    const inside = await handle.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
      return one<Setting>(tx, readTenant);
    });
    expect(inside.tenant_id).toBe(tenantId);

    const after = await handle.db.transaction((tx) => one<Setting>(tx, readTenant));
    // Same backend, so the pool really reused the connection the context was set on.
    expect(after.pid).toBe(inside.pid);
    expect(after.tenant_id ?? '').toBe('');
  });

  it('drops transaction-local context when the transaction rolls back', async () => {
    const tenantId = randomUUID();
    await expect(
      handle.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
        throw new Error('abort on purpose');
      }),
    ).rejects.toThrow('abort on purpose');
    const after = await handle.db.transaction((tx) => one<Setting>(tx, readTenant));
    expect(after.tenant_id ?? '').toBe('');
  });

  it('would leak a session-level setting, which is why tenancy uses is_local (control)', async () => {
    const tenantId = randomUUID();
    await handle.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, false)`);
    });
    const after = await handle.db.transaction((tx) => one<Setting>(tx, readTenant));
    expect(after.tenant_id).toBe(tenantId);
    await handle.db.execute(sql`reset app.tenant_id`);
  });
});

describe.each(drivers.filter((d) => d.name !== 'pglite'))(
  'a $name connection lost while checked out',
  ({ open }) => {
    it('fails its transaction as a connection loss, emits nothing unhandled, and the pool serves a fresh connection', async () => {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      const handle = await open();
      const runs = [
        (fn: (tx: Tx) => Promise<void>) => withTenant(handle.db, randomUUID(), fn),
        (fn: (tx: Tx) => Promise<void>) => handle.db.transaction(fn),
      ];
      try {
        for (const run of runs) {
          let pid = 0;
          const failed = await run(async (tx) => {
            pid = (await one<{ pid: number }>(tx, sql`select pg_backend_pid() as pid`)).pid;
            await admin.query('select pg_terminate_backend($1)', [pid]);
            // The socket closes while no query runs on it: the checked-out client emits
            // 'error', which without a listener would end the process.
            await new Promise((r) => setTimeout(r, 300));
            await tx.execute(sql`select 1`);
          }).then(
            () => null,
            (e: unknown) => e,
          );
          expect(isConnectionLoss(failed), String(failed)).toBe(true);
          const after = await one<{ pid: number }>(handle.db, sql`select pg_backend_pid() as pid`);
          expect(after.pid).not.toBe(pid);
        }
      } finally {
        await handle.close();
        await admin.end();
      }
    });
  },
);

describe('neon driver through the ws proxy', () => {
  let admin: pg.Pool;

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  });

  afterAll(async () => {
    await admin?.end();
  });

  it('carries large results and parameters in both directions', async () => {
    const handle = await drivers[1]!.open();
    try {
      const size = 8 * 1024 * 1024;
      const down = await one<{ len: number; body: string }>(
        handle.db,
        sql`select length(repeat('x', ${size})) as len, repeat('x', ${size}) as body`,
      );
      expect(Number(down.len)).toBe(size);
      expect(down.body.length).toBe(size);
      const up = await one<{ len: number }>(
        handle.db,
        sql`select length(${'y'.repeat(size)}::text) as len`,
      );
      expect(Number(up.len)).toBe(size);
    } finally {
      await handle.close();
    }
  });

  it('recovers after Postgres kills the session, reporting it to onPoolError', async () => {
    let reportError: (error: Error) => void = () => {};
    const reported = new Promise<Error>((resolve) => (reportError = resolve));
    const handle = await drivers[1]!.open((error) => reportError(error));
    try {
      const { pid } = await one<{ pid: number }>(handle.db, sql`select pg_backend_pid() as pid`);
      await admin.query('select pg_terminate_backend($1)', [pid]);
      await expect(reported).resolves.toBeInstanceOf(Error);
      const after = await one<{ pid: number }>(handle.db, sql`select pg_backend_pid() as pid`);
      expect(after.pid).not.toBe(pid);
    } finally {
      await handle.close();
    }
  });

  it('ends the Postgres session when the client closes', async () => {
    const handle = await drivers[1]!.open();
    const { pid } = await one<{ pid: number }>(handle.db, sql`select pg_backend_pid() as pid`);
    await handle.close();
    await expect
      .poll(
        async () =>
          (
            await admin.query('select count(*)::int as n from pg_stat_activity where pid = $1', [
              pid,
            ])
          ).rows[0].n,
        { timeout: 5000 },
      )
      .toBe(0);
  });
});

/** Opens a raw WebSocket to the proxy and reports the HTTP status of a refused upgrade. */
function upgradeStatus(port: number, address: string): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1?address=${encodeURIComponent(address)}`);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve('open');
      ws.close();
    });
    ws.once('error', (error) => {
      // ws emits an error after terminate() on a refused upgrade; the status is already known.
      if (!/closed before the connection was established/.test(error.message)) reject(error);
    });
  });
}

async function unusedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('ws proxy target policy', () => {
  let strict: WsProxy;

  beforeAll(async () => {
    strict = await startWsProxy();
  });

  afterAll(async () => {
    await strict?.close();
  });

  it('binds to loopback and reports its URL', () => {
    expect(strict.url).toBe(`ws://127.0.0.1:${strict.port}`);
    expect(strict.port).toBeGreaterThan(0);
  });

  it('by default refuses a non-loopback target at the upgrade, before any connection attempt', async () => {
    // 403 (not 502) shows the refusal came from the policy, ahead of the TCP connect.
    await expect(upgradeStatus(strict.port, '10.0.0.1:5432')).resolves.toBe(403);
    await expect(upgradeStatus(strict.port, 'example.com:5432')).resolves.toBe(403);
  });

  it('refuses a missing or malformed address', async () => {
    await expect(upgradeStatus(strict.port, '')).resolves.toBe(400);
    await expect(upgradeStatus(strict.port, '127.0.0.1')).resolves.toBe(400);
    await expect(upgradeStatus(strict.port, '127.0.0.1:99999')).resolves.toBe(400);
  });

  it('answers 502 when the loopback target is not listening', async () => {
    const port = await unusedLoopbackPort();
    await expect(upgradeStatus(strict.port, `127.0.0.1:${port}`)).resolves.toBe(502);
  });

  it('the default policy accepts only loopback names', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', 'LOCALHOST']) {
      expect(isLoopbackTarget(host)).toBe(true);
    }
    for (const host of ['10.0.0.1', '0.0.0.0', '127.0.0.1.nip.io', 'localhost.example.com', '']) {
      expect(isLoopbackTarget(host)).toBe(false);
    }
  });
});
