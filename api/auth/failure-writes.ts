import { sql } from 'drizzle-orm';
import type { Context } from 'hono';
import type { Tx } from '../../db/connection.js';
import type { AppEnv } from '../app-env.js';
import type { TenantSchema } from '../services.js';

/**
 * Runs `write` in a transaction of its own that commits although the request is about to
 * answer with an error — and so have its own transaction rolled back by tenantTransaction().
 * Failed-login counting and the revocation of a reused refresh token need exactly that: the
 * 401 must not undo them.
 *
 * Why not a second transaction from `services.branchDb()` + `withTenant`, while the
 * request's transaction stays open? Because that needs a second pooled connection while
 * the first is held: once as many failing requests as the pool has connections arrive at
 * once, each holds one and waits for another, forever — the whole branch pool (every
 * tenant on it) hangs. That takes about ten concurrent wrong passwords on Node (pool of
 * 10), and a single one on PGlite (one connection, transactions serialised).
 *
 * Instead this reuses the request's own connection: it ends the request's transaction
 * early with ROLLBACK (what the failing response would do anyway), runs `write` in a short
 * transaction with the tenant context set (transaction-local, as withTenant does, so it is
 * safe behind a transaction-mode pooler), commits it, and opens a fresh transaction with
 * the tenant context for the rest of the request, which the middleware then rolls back.
 *
 * Only call this on a path that will answer >= 400: anything the request wrote before is
 * discarded here. The callers use it after having only read.
 */
export async function commitDespiteFailure<T>(
  c: Context<AppEnv>,
  write: (tx: Tx<TenantSchema>) => Promise<T>,
): Promise<T> {
  const tx = c.get('tx');
  const tenantId = c.get('tenant').id;
  const begin = async () => {
    await tx.execute(sql`begin`);
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
  };
  await tx.execute(sql`rollback`);
  let result: T;
  try {
    await begin();
    result = await write(tx);
    await tx.execute(sql`commit`);
  } catch (err) {
    // Leave the connection as the middleware expects it: inside a transaction it will end.
    await tx.execute(sql`rollback`).catch(() => undefined);
    await begin().catch(() => undefined);
    throw err;
  }
  await begin();
  return result;
}
