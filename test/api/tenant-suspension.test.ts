import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTenant, setTenantStatus } from '../../db/platform.js';
import { call, spawnNodeApi, type ApiProcess, type ApiResponse } from '../support/api.js';
import { ADMIN_PASSWORD, REDIS_URL } from '../support/api-world.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';

/**
 * A suspension (through the platform CLI's function, so no API process performed it)
 * reaches running API processes within TENANT_STATUS_TTL_MS (5 s), although their host
 * cache (TENANT_CACHE_TTL_MS, 30 s by default) still holds the tenant.
 */

/** The bound the design promises, plus a second for the polling and the processes. */
const BOUND_MS = 6_000;

let t: TestEnvironment;
const apis: ApiProcess[] = [];

beforeAll(async () => {
  t = await createTestEnvironment('suspend');
  await createTenant(t.env, {
    slug: 'alpha',
    name: 'Alpha Academy',
    domains: ['alpha.test'],
    placement: 'pool',
    adminEmail: 'admin@alpha.test',
    adminPassword: ADMIN_PASSWORD,
    adminName: 'alpha Admin',
    actor: 'test',
  });
  const vars = {
    DATABASE_URL: t.env.DATABASE_URL,
    REDIS_URL,
    PLATFORM_DOMAIN: 'localhost',
    METRICS_QUEUE: `test-${randomUUID()}`,
  };
  apis.push(await spawnNodeApi(vars), await spawnNodeApi(vars));
}, 120_000);

afterAll(async () => {
  for (const api of apis) await api.close();
  await t?.destroy();
});

const profile = (api: ApiProcess) => call(api, 'GET', '/v1/public/profile', { host: 'alpha.test' });

/** Polls until `accept` holds or the bound has passed; returns the last answer. */
async function pollWithinBound(
  api: ApiProcess,
  accept: (r: ApiResponse) => boolean,
): Promise<ApiResponse> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const r = await profile(api);
    if (accept(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

it('refuses a suspended tenant in every running API process within the status bound, and serves it again after reactivation', async () => {
  // Both processes have the tenant in their host cache.
  for (const api of apis) expect((await profile(api)).status).toBe(200);

  await setTenantStatus(t.env, { slug: 'alpha', status: 'suspended', actor: 'test' });
  for (const api of apis) {
    const r = await pollWithinBound(api, (x) => x.status === 403);
    expect(r.status, r.text).toBe(403);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json.type).toMatch(/tenant_suspended$/);
  }

  await setTenantStatus(t.env, { slug: 'alpha', status: 'active', actor: 'test' });
  for (const api of apis) {
    const r = await pollWithinBound(api, (x) => x.status === 200);
    expect(r.status, r.text).toBe(200);
  }
  for (const api of apis) expect(api.exited()).toBeNull();
}, 60_000);
