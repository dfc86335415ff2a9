import pg from 'pg';
import { createDb, type DbHandle } from '../../db/connection-node.js';
import { createTenant } from '../../db/platform.js';
import * as tenantSchema from '../../db/schema/tenant.js';
import type { CreatedTenant } from '../../db/tenants/create.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';

/**
 * Tenants on one pool branch for the OneRoster tests: `handle` is the app role's
 * connection (row-level security on, as in production), `owner` reads across tenants.
 */
export interface OneRosterWorld {
  t: TestEnvironment;
  handle: DbHandle<typeof tenantSchema>;
  owner: pg.Pool;
  tenant(slug: string): Promise<CreatedTenant>;
  /** Runs a query as the owner (no row-level security) and returns its rows. */
  rows<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export async function oneRosterWorld(label: string): Promise<OneRosterWorld> {
  const t = await createTestEnvironment(label);
  const handle = await createDb({
    driver: 'pg',
    url: t.appUrl('pool'),
    schema: tenantSchema,
    max: 3,
  });
  const owner = new pg.Pool({ connectionString: t.adminUrl('pool'), max: 2 });
  return {
    t,
    handle,
    owner,
    tenant: (slug) =>
      createTenant(t.env, {
        slug,
        name: `${slug[0]!.toUpperCase()}${slug.slice(1)} Schools`,
        domains: [`${slug}.test`],
        placement: 'pool',
        adminEmail: `admin@${slug}.test`,
        adminPassword: 'Correct-Horse-Battery-9',
        actor: 'test',
      }),
    rows: async (text, values) => (await owner.query(text, values)).rows,
    async close() {
      await handle.close();
      await owner.end();
      await t.destroy();
    },
  };
}
