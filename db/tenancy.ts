import { sql } from 'drizzle-orm';
import type { Db, DbSchema, Tx } from './connection.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Runs `fn` inside one transaction with the tenant context set. The context is set only
 * with `set_config(…, true)` — transaction-local — because Neon's pooler multiplexes
 * sessions in transaction mode: a session-level SET would leak into another tenant's
 * transaction on the same server connection. Row-level security does the filtering.
 */
export async function withTenant<TSchema extends DbSchema, T>(
  db: Db<TSchema>,
  tenantId: string,
  fn: (tx: Tx<TSchema>) => Promise<T>,
): Promise<T> {
  if (!UUID.test(tenantId)) throw new Error('tenant id must be a UUID');
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    return fn(tx);
  });
}
