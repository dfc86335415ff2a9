import type { DbHandle, DbSchema } from '../connection.js';
import type { ControlDb, ControlSchema } from '../schema/types.js';
import type { BranchProvisioner } from '../branches/provisioner.js';

/**
 * What the tenant operations under db/tenants/ are given instead of importing: they have
 * no Node-only imports, so the platform API runs them on workerd as well as on Node. Both
 * runtimes build a `PlatformDeps` (db/platform.ts for Node, api/runtime for the API).
 */

export type { ControlDb, ControlSchema };

/** Opens a drizzle handle on a database URL; the caller closes it. */
export type OpenDb = <S extends DbSchema>(
  url: string,
  schema: S,
  max: number,
) => Promise<DbHandle<S>>;

export interface PlatformDeps {
  /** The control plane, connected with rights to write it. */
  control: ControlDb;
  /** Opens branch connections (seeding, checks); every handle opened is closed again. */
  open: OpenDb;
  provisioner: BranchProvisioner;
  /** BRANCH_SECRET_KEY: branch connection secrets are encrypted with it at rest. */
  secretKey: string;
}
