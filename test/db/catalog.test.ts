import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, withAdmin, type TestEnvironment } from '../support/environment.js';

// docs/tenancy-and-security.md#roles: the app role is NOSUPERUSER, NOBYPASSRLS and owns no table;
// every tenant table has row-level security enabled and forced.
let t: TestEnvironment;
beforeAll(async () => {
  t = await createTestEnvironment('catalog');
});
afterAll(async () => {
  await t?.destroy();
});

describe('the app role', () => {
  it('is not a superuser, cannot bypass RLS and cannot create databases or roles', async () => {
    const role = await withAdmin((c) =>
      c.query(
        `select rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin, rolinherit
           from pg_roles where rolname = $1`,
        [t.env.APP_DB_ROLE],
      ),
    );
    expect(role.rows).toEqual([
      {
        rolsuper: false,
        rolbypassrls: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolcanlogin: true,
        rolinherit: false,
      },
    ]);
  });

  it.each(['template', 'pool'])('owns nothing in the %s branch', async (branch) => {
    const owned = await withAdmin(
      (c) =>
        c.query(
          `select c.relname from pg_class c join pg_roles r on r.oid = c.relowner
            where r.rolname = $1
           union all
           select n.nspname from pg_namespace n join pg_roles r on r.oid = n.nspowner
            where r.rolname = $1`,
          [t.env.APP_DB_ROLE],
        ),
      `${t.prefix}_${branch}`,
    );
    expect(owned.rows).toEqual([]);
  });
});

describe.each(['template', 'pool'])('the %s branch', (branch) => {
  const tables = () =>
    withAdmin(
      (c) =>
        c.query<{
          relname: string;
          relrowsecurity: boolean;
          relforcerowsecurity: boolean;
          has_tenant_id: boolean;
          policies: string[];
          owner: string;
        }>(
          `select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  exists (select 1 from pg_attribute a where a.attrelid = c.oid
                           and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant_id,
                  coalesce((select array_agg(p.polname::text) from pg_policy p where p.polrelid = c.oid), '{}') as policies,
                  pg_get_userbyid(c.relowner) as owner
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p')
            order by c.relname`,
        ),
      `${t.prefix}_${branch}`,
    );

  it('has every tenant table with RLS enabled and forced, under the tenant policy', async () => {
    const { rows } = await tables();
    expect(rows.length).toBeGreaterThanOrEqual(35);
    const unguarded = rows.filter(
      (r) =>
        !r.relrowsecurity || !r.relforcerowsecurity || !r.policies.includes('tenant_isolation'),
    );
    expect(unguarded.map((r) => r.relname)).toEqual([]);
  });

  it('has no table without tenant_id, and every table is owned by the owner role', async () => {
    const { rows } = await tables();
    expect(rows.filter((r) => !r.has_tenant_id).map((r) => r.relname)).toEqual([]);
    expect(new Set(rows.map((r) => r.owner))).toEqual(new Set([t.env.OWNER_DB_ROLE]));
  });

  it('has every index of a tenant table leading with tenant_id', async () => {
    const { rows } = await withAdmin(
      (c) =>
        c.query<{ index: string; first: string }>(
          `select i.indexrelid::regclass::text as index, a.attname as first
             from pg_index i
             join pg_class c on c.oid = i.indrelid
             join pg_namespace n on n.oid = c.relnamespace
             left join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
            where n.nspname = 'public'`,
        ),
      `${t.prefix}_${branch}`,
    );
    expect(rows.length).toBeGreaterThan(50);
    expect(rows.filter((r) => r.first !== 'tenant_id').map((r) => r.index)).toEqual([]);
  });

  it('rejects rows whose foreign key would point into another tenant (composite keys)', async () => {
    const { rows } = await withAdmin(
      (c) =>
        c.query<{ conname: string; cols: number }>(
          `select conname, array_length(conkey, 1) as cols
             from pg_constraint c join pg_namespace n on n.oid = c.connamespace
            where n.nspname = 'public' and contype = 'f'`,
        ),
      `${t.prefix}_${branch}`,
    );
    expect(rows.length).toBeGreaterThan(40);
    expect(rows.filter((r) => r.cols !== 2).map((r) => r.conname)).toEqual([]);
  });
});
