import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDatabase } from '../../db/branches/pglite.js';
import { startEmbeddedCluster, type EmbeddedCluster } from '../../db/embedded/cluster.js';

/**
 * The embedded PGlite cluster behind `npm run demo`, through the real `pg` driver: the app
 * role's row-level security, one session handed to one connection at a time, COPY both
 * ways, the change-tracking functions, databases copied from a template.
 */

const ROLES = { ownerRole: 'homeroom_owner', appRole: 'homeroom_app' };
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

let dir: string;
let cluster: EmbeddedCluster;
const clients: pg.Client[] = [];

async function connect(database: string, user?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: cluster.url(database, user) });
  await client.connect();
  clients.push(client);
  return client;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homeroom-embedded-'));
  cluster = await startEmbeddedCluster({ dataDir: dir });
  await cluster.createDatabase('tpl');
  await prepareDatabase(cluster.url('tpl'), ROLES);
  const owner = await connect('tpl');
  await owner.query(`
    set role homeroom_owner;
    create table notes (id int primary key, tenant_id uuid not null, body text not null);
    alter table notes enable row level security;
    alter table notes force row level security;
    create policy tenant on notes
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    grant select, insert on notes to homeroom_app;
    reset role;`);
  await owner.end();
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.end()));
  await cluster?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded PGlite cluster', () => {
  it('copies a template into a new database and refuses unknown ones', async () => {
    await cluster.createDatabase('branch', 'tpl');
    expect(await cluster.hasDatabase('branch')).toBe(true);
    const c = await connect('branch');
    const r = await c.query(`select relrowsecurity, relforcerowsecurity from pg_class
      where relname = 'notes'`);
    expect(r.rows).toEqual([{ relrowsecurity: true, relforcerowsecurity: true }]);
    await expect(connect('missing')).rejects.toThrow(/database "missing" does not exist/);
  }, 60_000);

  it('loads with COPY FROM STDIN as the owner and reads it back with COPY TO STDOUT', async () => {
    const owner = await connect('branch');
    await owner.query('begin');
    const rows = [`1\t${A}\tfirst of A\n`, `2\t${A}\tsecond of A\n`, `3\t${B}\tonly of B\n`];
    await pipeline(Readable.from(rows), owner.query(copyFrom('copy notes from stdin')));
    await owner.query('commit');
    let text = '';
    for await (const chunk of owner.query(
      copyTo('copy (select * from notes order by id) to stdout'),
    ))
      text += (chunk as Buffer).toString();
    expect(text).toBe(rows.join(''));
  });

  it('runs the app connection as the app role, so row-level security applies', async () => {
    const app = await connect('branch', 'homeroom_app');
    const who = await app.query(`select current_user, session_user,
      (select rolbypassrls or rolsuper from pg_roles where rolname = current_user) as bypass`);
    expect(who.rows).toEqual([
      { current_user: 'homeroom_app', session_user: 'homeroom_app', bypass: false },
    ]);
    expect((await app.query('select * from notes')).rowCount).toBe(0);
    await app.query('begin');
    await app.query(`select set_config('app.tenant_id', $1, true)`, [A]);
    const mine = await app.query<{ id: number }>('select id from notes order by id');
    expect(mine.rows.map((r) => r.id)).toEqual([1, 2]);
    await expect(app.query(`insert into notes values (9, '${B}', 'x')`)).rejects.toThrow(
      /row-level security/,
    );
    await app.query('rollback');
    // The owner's superuser session does not leak into the app connection, nor back.
    const owner = await connect('branch');
    expect((await owner.query('select current_user')).rows[0].current_user).toBe('postgres');
    expect((await app.query('select current_user')).rows[0].current_user).toBe('homeroom_app');
    expect((await app.query('select count(*)::int n from notes')).rows[0].n).toBe(0);
  });

  it('never interleaves two connections: a transaction keeps the session until it ends', async () => {
    const one = await connect('branch', 'homeroom_app');
    const two = await connect('branch', 'homeroom_app');
    await one.query('begin');
    await one.query(`select set_config('app.tenant_id', $1, true)`, [A]);
    let twoDone = false;
    const twoRead = two
      .query(`select set_config('app.tenant_id', $1, false)`, [B])
      .then(() => {
        twoDone = true;
        return two.query<{ n: number }>('select count(*)::int n from notes');
      })
      .then((r) => r.rows[0]!.n);
    await new Promise((r) => setTimeout(r, 200));
    expect(twoDone).toBe(false);
    const inOne = await one.query('select count(*)::int n from notes');
    expect(inOne.rows[0].n).toBe(2);
    await one.query('commit');
    // `two` set its tenant for its own session only: B's one row, and nothing of it in `one`.
    expect(await twoRead).toBe(1);
    expect((await one.query('select count(*)::int n from notes')).rows[0].n).toBe(0);
  });

  it('outlives clients whose sockets drop mid-transaction and mid-query; the session passes on', async () => {
    const drop = (client: pg.Client) => {
      client.on('error', () => undefined);
      (
        client as unknown as { connection: { stream: { destroy(): void } } }
      ).connection.stream.destroy();
    };
    const inTx = await connect('branch', 'homeroom_app');
    await inTx.query('begin');
    await inTx.query(`select set_config('app.tenant_id', $1, true)`, [A]);
    drop(inTx);
    const busy = await connect('branch', 'homeroom_app');
    const sleeping = busy.query('select pg_sleep(0.3)').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    drop(busy);
    await sleeping;
    // The dropped transaction was rolled back and gave up the session: a new client gets it.
    const next = await connect('branch', 'homeroom_app');
    await next.query('begin');
    expect(
      (await next.query(`select current_setting('app.tenant_id', true) t`)).rows[0].t,
    ).toBeFalsy();
    await next.query('commit');
    expect((await next.query('select 1 as one')).rows[0].one).toBe(1);
  });

  it('has the snapshot functions change tracking uses', async () => {
    const c = await connect('branch', 'homeroom_app');
    const r = await c.query(`select pg_current_xact_id()::text as xid,
      pg_snapshot_xmin(pg_current_snapshot())::text as xmin,
      pg_visible_in_snapshot(pg_current_xact_id(), pg_current_snapshot()) as visible`);
    expect(Number(r.rows[0].xid)).toBeGreaterThan(0);
    expect(Number(r.rows[0].xmin)).toBeGreaterThan(0);
    // As on a server: a transaction's own id is still running in its own snapshot.
    expect(r.rows[0].visible).toBe(false);
  });
});
