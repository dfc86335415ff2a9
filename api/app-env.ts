import type { Tx } from '../db/connection.js';
import type { TenantSchema } from '../db/schema/types.js';
import type { Services } from './services.js';
import type { TenantContext } from '../db/control-plane.js';
import type { Principal } from './auth/principal.js';

/** The one Hono environment type of the app: bindings are the raw Worker env (unused on Node). */
export type AppEnv = {
  Bindings: Record<string, unknown>;
  Variables: {
    services: Services;
    requestId: string;
    /** Set by the tenant middleware on every tenant-scoped route. */
    tenant: TenantContext;
    /** The request's transaction on the tenant's branch (see tenantTransaction). */
    tx: Tx<TenantSchema>;
    /** Set by `authenticate()`; absent on public routes. */
    principal: Principal;
    /** Set by commitDespiteRefusal: a 4xx answer commits the transaction. */
    commitRefusal: boolean;
    /** Work to run once the request's transaction has committed (see onCommit). */
    afterCommit: (() => Promise<unknown>)[] | undefined;
  };
};
