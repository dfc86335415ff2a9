import { sql } from 'drizzle-orm';
import type { Db, DbSchema, Tx } from './connection.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A driver's own way to open a transaction with the tenant context already set, in one
 * round trip instead of two (`begin`, then `set_config`). `createDb` attaches it to the
 * handles of drivers that can (`pg`); withTenant falls back to drizzle's transaction.
 */
export const TENANT_TRANSACTION = Symbol.for('homeroom.tenantTransaction');

export type TenantTransaction = <TSchema extends DbSchema, T>(
  tenantId: string,
  fn: (tx: Tx<TSchema>) => Promise<T>,
) => Promise<T>;

/** The statement that opens a tenant's transaction; `tenantId` must be a checked UUID. */
export const beginTenantSql = (tenantId: string) =>
  `begin; select set_config('app.tenant_id', '${tenantId}', true)`;

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
  const own = (db as { [TENANT_TRANSACTION]?: TenantTransaction })[TENANT_TRANSACTION];
  if (own) return own(tenantId, fn);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    return fn(tx);
  });
}
