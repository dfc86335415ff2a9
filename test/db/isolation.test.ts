import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, rowsOf, type DbHandle } from '../../db/connection-node.js';
import { withTenant } from '../../db/tenancy.js';
import * as schema from '../../db/schema/tenant.js';
import { createTenant } from '../../db/platform.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';
import { expectPgError } from '../support/errors.js';

// docs/tenancy-and-security.md#tenant-context: two tenants interleaved on one pooled connection see
// none of each other's rows; no tenant set → zero rows. Plus: foreign keys cannot cross tenants.
let t: TestEnvironment;
let app: DbHandle<typeof schema>;
let a: string;
let b: string;

const password = 'Correct-Horse-Battery-9';

beforeAll(async () => {
  t = await createTestEnvironment('isolation');
  const ta = await createTenant(t.env, {
    slug: 'alpha',
    name: 'Alpha',
    domains: ['alpha.test'],
    placement: 'pool',
    adminEmail: 'admin@alpha.test',
    adminPassword: password,
    actor: 'test',
  });
  const tb = await createTenant(t.env, {
    slug: 'beta',
    name: 'Beta',
    domains: ['beta.test'],
    placement: 'pool',
    adminEmail: 'admin@beta.test',
    adminPassword: password,
    actor: 'test',
  });
  a = ta.id;
  b = tb.id;
  // One connection: every transaction below shares the same server session.
  app = await createDb({ driver: 'pg', url: t.appUrl('pool'), schema, max: 1 });
});
afterAll(async () => {
  await app?.close();
  await t?.destroy();
});

const backend = async (tx: { execute: (q: ReturnType<typeof sql>) => Promise<unknown> }) =>
  rowsOf<{ pid: number }>(await tx.execute(sql`select pg_backend_pid() as pid`))[0]!.pid;

describe('tenant isolation on one pooled connection', () => {
  it('shows each tenant only its own rows, interleaved on the same backend', async () => {
    const pids = new Set<number>();
    for (let round = 0; round < 3; round++) {
      for (const [mine, theirs] of [
        [a, b],
        [b, a],
      ] as const) {
        await withTenant(app.db, mine, async (tx) => {
          pids.add(await backend(tx));
          const users = await tx.select({ tenantId: schema.users.tenantId }).from(schema.users);
          expect(users.length).toBe(1);
          expect(users.every((u) => u.tenantId === mine)).toBe(true);
          const theirRoles = await tx
            .select()
            .from(schema.roles)
            .where(eq(schema.roles.tenantId, theirs));
          expect(theirRoles).toEqual([]);
          const ownRoles = await tx.select().from(schema.roles);
          expect(ownRoles.length).toBe(8);
        });
      }
    }
    expect(pids.size).toBe(1);
  });

  it('shows zero rows when no tenant is set, even after tenant transactions on the connection', async () => {
    await withTenant(app.db, a, async (tx) => {
      expect((await tx.select().from(schema.users)).length).toBe(1);
    });
    const counts = await app.db.transaction(async (tx) => {
      const out: Record<string, number> = {};
      for (const table of [
        'users',
        'roles',
        'permissions',
        'org_units',
        'funnel_stages',
        'audit_log',
      ]) {
        const r = rowsOf<{ n: number }>(
          await tx.execute(sql.raw(`select count(*)::int as n from ${table}`)),
        );
        out[table] = r[0]!.n;
      }
      return out;
    });
    expect(counts).toEqual({
      users: 0,
      roles: 0,
      permissions: 0,
      org_units: 0,
      funnel_stages: 0,
      audit_log: 0,
    });
  });

  it('cannot write a row for another tenant, nor move a row to another tenant', async () => {
    // 42501: new row violates row-level security policy.
    await expectPgError(
      withTenant(app.db, a, (tx) =>
        tx
          .insert(schema.orgUnits)
          .values({ tenantId: b, kind: 'school', name: 'Sneaky', code: 'SNK' }),
      ),
      '42501',
      /row-level security/,
    );
    await expectPgError(
      withTenant(app.db, a, (tx) => tx.update(schema.orgUnits).set({ tenantId: b })),
      '42501',
      /row-level security/,
    );
    const untouched = await withTenant(app.db, b, (tx) => tx.select().from(schema.orgUnits));
    expect(untouched.map((o) => o.code)).toEqual(['BETA']);
  });

  it('rejects a foreign key that points at another tenant’s row', async () => {
    const [betaRoot] = await withTenant(app.db, b, (tx) =>
      tx.select({ id: schema.orgUnits.id }).from(schema.orgUnits),
    );
    await expectPgError(
      withTenant(app.db, a, (tx) =>
        tx.insert(schema.orgUnits).values({
          tenantId: a,
          parentId: betaRoot!.id,
          kind: 'school',
          name: 'Cross',
          code: 'CROSS',
        }),
      ),
      '23503',
      /org_units_parent_fk/,
    );
  });

  it('keeps the audit log append-only for the app role', async () => {
    await expectPgError(
      withTenant(app.db, a, (tx) => tx.update(schema.auditLog).set({ action: 'tampered' })),
      '42501',
      /permission denied/,
    );
    await expectPgError(
      withTenant(app.db, a, (tx) => tx.delete(schema.auditLog)),
      '42501',
      /permission denied/,
    );
    const kept = await withTenant(app.db, a, (tx) => tx.select().from(schema.auditLog));
    expect(kept.map((r) => r.action)).toEqual(['tenant.provisioned']);
  });
});
