import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type DbHandle } from '../../db/connection-node.js';
import { ControlPlane, TtlCache, type ControlPlaneOptions } from '../../db/control-plane.js';
import { createTenant } from '../../db/platform.js';
import type { CreatedTenant } from '../../db/tenants/create.js';
import * as control from '../../db/schema/control.js';
import type { ControlDb } from '../../db/schema/types.js';
import { createTestEnvironment, withAdmin, type TestEnvironment } from '../support/environment.js';

// The one control-plane reader (API and workers) with its caches injected.
let t: TestEnvironment;
let handle: DbHandle<typeof control>;
let tenant: CreatedTenant;

beforeAll(async () => {
  t = await createTestEnvironment('control_reader');
  handle = await createDb({ driver: 'pg', url: t.env.DATABASE_URL, schema: control, max: 2 });
  tenant = await createTenant(t.env, {
    slug: 'gamma',
    name: 'Gamma Academy',
    domains: ['gamma.test'],
    placement: 'pool',
    adminEmail: 'admin@gamma.test',
    adminPassword: 'Correct-Horse-Battery-9',
    actor: 'test',
  });
}, 120_000);

afterAll(async () => {
  await handle?.close();
  await t?.destroy();
});

/** A reader over the test's control plane that counts how often it opened the database. */
function reader(over: Partial<ControlPlaneOptions> = {}) {
  const opened = { count: 0 };
  const plane = new ControlPlane({
    open: async () => {
      opened.count++;
      return handle.db as ControlDb;
    },
    platformDomain: 'localhost',
    secretKey: t.env.BRANCH_SECRET_KEY,
    hostCache: new TtlCache(),
    branchCache: new TtlCache(),
    statusCache: new TtlCache(),
    siteHostsCache: new TtlCache(),
    ttlMs: 60_000,
    negativeTtlMs: 60_000,
    statusTtlMs: 60_000,
    ...over,
  });
  return { plane, opened };
}

const setStatus = (status: string) =>
  withAdmin(
    (c) => c.query('update tenants set status = $1 where id = $2', [status, tenant.id]),
    t.prefix,
  );

describe('control-plane reader', () => {
  it('reads a tenant by id in either case, and concurrent lookups share one query', async () => {
    const { plane, opened } = reader();
    const [a, b] = await Promise.all([
      plane.tenant(tenant.id),
      plane.tenant(tenant.id.toUpperCase()),
    ]);
    expect(a).toMatchObject({ id: tenant.id, slug: 'gamma', status: 'active' });
    expect(b).toBe(a);
    expect(opened.count).toBe(1);
    expect(await plane.tenantBySlug('gamma')).toMatchObject({ id: tenant.id });
    expect((await plane.activeTenants()).map((r) => r.id)).toContain(tenant.id);
  });

  it('reuses an injected tenant cache across readers until it is cleared', async () => {
    const shared = new TtlCache<Promise<Awaited<ReturnType<ControlPlane['tenant']>>>>();
    const first = reader({ tenantCache: shared });
    expect(await first.plane.tenant(tenant.id)).toMatchObject({ status: 'active' });
    try {
      await setStatus('suspended');
      const second = reader({ tenantCache: shared });
      expect(await second.plane.tenant(tenant.id)).toMatchObject({ status: 'active' });
      expect(second.opened.count).toBe(0);
      shared.clear();
      expect(await second.plane.tenant(tenant.id)).toMatchObject({ status: 'suspended' });
      // Without a TTL nothing is kept: every lookup reads the row.
      const uncached = reader({ ttlMs: 0 });
      await uncached.plane.tenant(tenant.id);
      await uncached.plane.tenant(tenant.id);
      expect(uncached.opened.count).toBe(2);
    } finally {
      await setStatus('active');
    }
  });

  it('never caches a failed lookup', async () => {
    let fail = true;
    const { plane } = reader({
      open: async () => {
        if (fail) throw new Error('control plane unreachable');
        return handle.db as ControlDb;
      },
    });
    await expect(plane.tenant(tenant.id)).rejects.toThrow('control plane unreachable');
    fail = false;
    expect(await plane.tenant(tenant.id)).toMatchObject({ id: tenant.id });
  });

  it('decrypts a branch URI; a missing branch is refused', async () => {
    const { plane } = reader({ readyBranchesOnly: false });
    const record = (await plane.tenant(tenant.id))!;
    expect(await plane.branchUrl(record.branchId)).toMatch(/^postgres(ql)?:\/\//);
    await expect(plane.branchUrl('00000000-0000-4000-8000-000000000000')).rejects.toThrow(
      /not found in the control plane/,
    );
    await expect(reader().plane.branchUrl('00000000-0000-4000-8000-000000000000')).rejects.toThrow(
      /is not ready/,
    );
  });
});
