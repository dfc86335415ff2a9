import { createDb, type DbHandle } from '../../db/connection-node.js';
import type { Tx } from '../../db/connection.js';
import * as tenantSchema from '../../db/schema/tenant.js';
import { withTenant } from '../../db/tenancy.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';
import { Staff } from '../support/staff.js';

/**
 * The domain functions of the API without HTTP: the tenants of an API world (no runtime
 * started), the `Staff` fixtures to write rows beside them, and the tenant's transaction
 * as the request path opens it (app role, row-level security).
 */
export interface DomainWorld {
  world: ApiWorld;
  staff: Staff;
  tenantId: string;
  /** Runs `fn` in one committed transaction of the alpha tenant; a throw rolls it back. */
  inTenant<T>(fn: (tx: Tx<TenantSchema>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function createDomainWorld(label: string): Promise<DomainWorld> {
  const world = await createApiWorld(label, { runtimes: [] });
  const staff = await Staff.open(world);
  const handle: DbHandle<TenantSchema> = await createDb({
    driver: 'pg',
    url: world.t.appUrl('pool'),
    schema: tenantSchema,
    max: 2,
  });
  const tenantId = world.alpha.id;
  return {
    world,
    staff,
    tenantId,
    inTenant: (fn) => withTenant(handle.db, tenantId, fn),
    async close() {
      await staff.close();
      await handle.close();
      await world.close();
    },
  };
}
