import { sql } from 'drizzle-orm';
import { rowsOf, type Db, type DbSchema, type Tx } from './connection.js';
import { METRIC_INPUTS_WRITTEN_SQL } from './metric-inputs.js';
import { isUuid } from './ids.js';

/**
 * A driver's own way to open a transaction with the tenant context already set, in one
 * round trip instead of two (`begin`, then `set_config`). `createDb` attaches it to the
 * handles of drivers that can (`pg`); withTenant falls back to drizzle's transaction.
 */
export const TENANT_TRANSACTION = Symbol.for('homeroom.tenantTransaction');

export type TenantTransaction = <TSchema extends DbSchema, T>(
  tenantId: string,
  fn: (tx: Tx<TSchema>) => Promise<T>,
  options: TenantTransactionOptions,
) => Promise<Tracked<T>>;

export interface TenantTransactionOptions {
  /** Also answer whether the transaction wrote a metric input (see db/metric-inputs.ts). */
  trackMetricInputs: boolean;
}

/** A transaction's result, and whether it wrote a metric input (false when not tracked). */
export interface Tracked<T> {
  result: T;
  metricInputsWritten: boolean;
}

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
  return (await tenantTransaction(db, tenantId, fn, { trackMetricInputs: false })).result;
}

/**
 * {@link withTenant} that also tells whether the committed transaction wrote a metric input,
 * derived from what the transaction wrote rather than from what its code remembered to say:
 * the API enqueues a metrics refresh on it, so no route can forget one.
 */
export function withTenantTracked<TSchema extends DbSchema, T>(
  db: Db<TSchema>,
  tenantId: string,
  fn: (tx: Tx<TSchema>) => Promise<T>,
): Promise<Tracked<T>> {
  return tenantTransaction(db, tenantId, fn, { trackMetricInputs: true });
}

async function tenantTransaction<TSchema extends DbSchema, T>(
  db: Db<TSchema>,
  tenantId: string,
  fn: (tx: Tx<TSchema>) => Promise<T>,
  options: TenantTransactionOptions,
): Promise<Tracked<T>> {
  if (!isUuid(tenantId)) throw new Error('tenant id must be a UUID');
  const own = (db as { [TENANT_TRANSACTION]?: TenantTransaction })[TENANT_TRANSACTION];
  if (own) return own(tenantId, fn, options);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    const result = await fn(tx);
    const metricInputsWritten = options.trackMetricInputs
      ? rowsOf<{ written: boolean }>(await tx.execute(sql.raw(METRIC_INPUTS_WRITTEN_SQL)))[0]
          ?.written === true
      : false;
    return { result, metricInputsWritten };
  });
}
