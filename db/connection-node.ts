/**
 * `createDb` for Node processes (BullMQ workers, scripts, the API on Node, tests): the
 * Neon driver from `connection.ts` plus `pg` over TCP and embedded PGlite. Kept apart from
 * `connection.ts` so the Worker bundle never contains `pg` or PGlite; the drivers are
 * still imported lazily so a process only loads the one it uses (PGlite's WASM is large).
 */
import {
  createDb as createNeonDb,
  isConnectionLoss,
  keepClientErrorsFromCrashing,
  type Db,
  type DbHandle,
  type DbOptions,
  type DbSchema,
  type PgDbOptions,
  type PgliteDbOptions,
} from './connection.js';

import type { PoolClient, QueryResult } from 'pg';
import { METRIC_INPUTS_WRITTEN_SQL } from './metric-inputs.js';
import { beginTenantSql, TENANT_TRANSACTION, type TenantTransaction } from './tenancy.js';

export { isConnectionLoss, rowsOf } from './connection.js';
export type {
  Db,
  DbDriver,
  DbHandle,
  DbOptions,
  DbSchema,
  NeonDbOptions,
  PgDbOptions,
  PgliteDbOptions,
  Tx,
  WebSocketConstructor,
} from './connection.js';

/** Opens a database handle over whichever driver the options name. */
export async function createDb<TSchema extends DbSchema = Record<string, never>>(
  options: DbOptions<TSchema>,
): Promise<DbHandle<TSchema>> {
  switch (options.driver) {
    case 'neon':
      return createNeonDb(options);
    case 'pg':
      return createPgDb(options);
    case 'pglite':
      return createPgliteDb(options);
  }
}

async function createPgDb<TSchema extends DbSchema>(
  options: PgDbOptions<TSchema>,
): Promise<DbHandle<TSchema>> {
  const [{ default: pg }, { drizzle }] = await Promise.all([
    import('pg'),
    import('drizzle-orm/node-postgres'),
  ]);
  // A bounded wait for a connection: an exhausted pool fails a request instead of hanging it.
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    connectionTimeoutMillis: 10_000,
  });
  // See ignorePoolError in connection.ts: an idle connection's error must not crash us.
  pool.on('error', options.onPoolError ?? (() => {}));
  pool.on('connect', keepClientErrorsFromCrashing);
  const db: Db<TSchema> = drizzle({ client: pool, schema: options.schema });
  // withTenant's one-round-trip transaction: `begin` and the tenant context in one simple
  // query on a pooled client, with a drizzle instance per client (built once, reused).
  const onClient = new WeakMap<PoolClient, Db<TSchema>>();
  const tenantTransaction: TenantTransaction = async (tenantId, fn, { trackMetricInputs }) => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(beginTenantSql(tenantId));
      let tx = onClient.get(client);
      if (!tx) {
        tx = drizzle({ client, schema: options.schema });
        onClient.set(client, tx);
      }
      // The drizzle instance runs on the client inside the open transaction; nothing calls
      // transaction-only methods (rollback, nested transaction) on the request's tx.
      const result = await fn(tx as never);
      if (!trackMetricInputs) {
        await client.query('commit');
        return { result, metricInputsWritten: false };
      }
      // The question and the commit in one round trip (a simple query runs both in order).
      const [asked] = (await client.query(
        `${METRIC_INPUTS_WRITTEN_SQL}; commit`,
      )) as unknown as QueryResult<{ written: boolean }>[];
      return { result, metricInputsWritten: asked?.rows[0]?.written === true };
    } catch (err) {
      // A lost connection (also a commit whose answer never came: the caller cannot know
      // whether it committed) is not rolled back over the dead socket; the client goes.
      if (isConnectionLoss(err)) broken = err as Error;
      else await client.query('rollback').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      // A client whose connection died or whose rollback failed is in an unknown state:
      // released with an error, the pool discards it.
      client.release(broken);
    }
  };
  Object.assign(db, { [TENANT_TRANSACTION]: tenantTransaction });
  return { db, close: () => pool.end(), driver: 'pg' };
}

async function createPgliteDb<TSchema extends DbSchema>(
  options: PgliteDbOptions<TSchema>,
): Promise<DbHandle<TSchema>> {
  const [{ PGlite }, { drizzle }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
  ]);
  // create() waits for the WASM instance, so setup failures surface here, not on first query.
  const client = await PGlite.create(options.dataDir);
  const db: Db<TSchema> = drizzle({ client, schema: options.schema });
  return { db, close: () => client.close(), driver: 'pglite' };
}
