import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../db/platform.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';

// The branch-side half of incremental extraction: every write stamps the writer's
// transaction id, hard deletes leave tombstones, and a snapshot tells exactly which
// writers were still in flight.
let t: TestEnvironment;
let tenantId: string;
const clients: pg.Client[] = [];

async function app(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: t.appUrl('pool') });
  await c.connect();
  clients.push(c);
  return c;
}
async function begin(c: pg.Client) {
  await c.query('begin');
  await c.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
}

beforeAll(async () => {
  t = await createTestEnvironment('tracking');
  tenantId = (
    await createTenant(t.env, {
      slug: 'delta',
      name: 'Delta',
      domains: ['delta.test'],
      placement: 'pool',
      adminEmail: 'admin@delta.test',
      adminPassword: 'Correct-Horse-Battery-9',
      actor: 'test',
    })
  ).id;
});
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await t?.destroy();
});

describe('change tracking on tenant branches', () => {
  it('stamps inserts and updates with the writing transaction', async () => {
    const c = await app();
    await begin(c);
    const { rows } = await c.query(
      `insert into org_units (tenant_id, kind, name, code) values ($1, 'school', 'North', 'N1')
       returning id, changed_xid::text as xid, pg_current_xact_id()::text as me`,
      [tenantId],
    );
    expect(rows[0].xid).toBe(rows[0].me);
    await c.query('commit');
    await begin(c);
    const upd = await c.query(
      `update org_units set name = 'North Campus' where id = $1
       returning changed_xid::text as xid, pg_current_xact_id()::text as me`,
      [rows[0].id],
    );
    expect(upd.rows[0].xid).toBe(upd.rows[0].me);
    expect(BigInt(upd.rows[0].xid)).toBeGreaterThan(BigInt(rows[0].xid));
    await c.query('commit');
  });

  it('leaves a tombstone for a hard delete', async () => {
    const c = await app();
    await begin(c);
    const { rows } = await c.query(
      `insert into org_units (tenant_id, kind, name, code) values ($1, 'school', 'Gone', 'G1') returning id`,
      [tenantId],
    );
    await c.query(`delete from org_units where id = $1`, [rows[0].id]);
    const tomb = await c.query(`select table_name, row_id from row_tombstones where row_id = $1`, [
      rows[0].id,
    ]);
    expect(tomb.rows).toEqual([{ table_name: 'org_units', row_id: rows[0].id }]);
    await c.query('commit');
  });

  it('identifies a row committed by a transaction that was in flight at the previous snapshot', async () => {
    const writer = await app();
    const reader = await app();
    await begin(writer);
    await writer.query(
      `insert into org_units (tenant_id, kind, name, code) values ($1, 'school', 'Late', 'L1')`,
      [tenantId],
    );
    // The previous extraction's snapshot is taken while the writer is still open.
    await begin(reader);
    const snap = (await reader.query(`select pg_current_snapshot()::text as s`)).rows[0]
      .s as string;
    const seen = await reader.query(`select count(*)::int as n from org_units where code = 'L1'`);
    expect(seen.rows[0].n).toBe(0);
    await reader.query('commit');
    await writer.query('commit');

    // Next extraction: rows whose writer was not visible in that snapshot.
    await begin(reader);
    const changed = await reader.query(
      `select code from org_units
        where changed_xid >= pg_snapshot_xmin($1::pg_snapshot)
          and not pg_visible_in_snapshot(changed_xid, $1::pg_snapshot)`,
      [snap],
    );
    expect(changed.rows.map((r) => r.code)).toContain('L1');
    expect(changed.rows.map((r) => r.code)).not.toContain('N1');
    await reader.query('commit');
  });
});
