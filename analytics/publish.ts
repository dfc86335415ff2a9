/**
 * Publishes a refresh's metric snapshots into the tenant's branch: ONE PostgreSQL
 * transaction, tenant context set, connected as the app role.
 *
 * Each (metric, scope, period) row is upserted on the `metric_snapshots_key` unique index
 * (live rows only) and rows of scopes the refresh no longer produced are soft-deleted, so a
 * reader (READ COMMITTED) sees every row of one refresh or every row of the next. Upserting
 * rather than delete-and-insert keeps row ids stable and leaves no tombstones or dead
 * duplicates behind every 15 minutes.
 *
 * `afterPublish` runs in the same transaction: dashboard rendering plugs in there to store
 * its `dashboard_pages`, so pages and figures always match.
 */
import { sql } from 'drizzle-orm';
import type { Db, DbSchema, Tx } from '../db/connection.js';
import { withTenant } from '../db/tenancy.js';
import type { AnySnapshot } from './metrics/types.js';

const TENANT_SCOPE = '00000000-0000-0000-0000-000000000000';

export interface PublishOptions<TSchema extends DbSchema> {
  tenantId: string;
  /** The refresh run the snapshots come from (`metric_snapshots.refresh_run_id`). */
  runId: string;
  snapshots: readonly AnySnapshot[];
  /** `metric_snapshots.as_of`: when the data was read (default: the snapshots' as-of date, 00:00 UTC). */
  dataAsOf?: string | Date;
  /**
   * Runs inside the publishing transaction after the snapshots are written; throwing rolls
   * the whole publication back. Dashboard rendering stores `dashboard_pages` here.
   */
  afterPublish?: (tx: Tx<TSchema>, snapshots: readonly AnySnapshot[]) => Promise<void>;
}

export interface PublishResult {
  /** Snapshot rows inserted or updated. */
  upserted: number;
  /** Rows of scopes no longer produced, soft-deleted. */
  retired: number;
}

/** Replaces the tenant's published metric snapshots in one transaction. */
export async function publishSnapshots<TSchema extends DbSchema>(
  db: Db<TSchema>,
  options: PublishOptions<TSchema>,
): Promise<PublishResult> {
  const { snapshots } = options;
  const asOfDates = new Set(snapshots.map((s) => s.asOf));
  if (asOfDates.size > 1) throw new Error('snapshots of one publication share one as-of date');
  const dataAsOf =
    options.dataAsOf instanceof Date
      ? options.dataAsOf.toISOString()
      : (options.dataAsOf ??
        `${snapshots[0]?.asOf ?? new Date().toISOString().slice(0, 10)}T00:00:00Z`);

  return withTenant(db, options.tenantId, async (tx) => {
    // Publications of one tenant never interleave (a delayed older run cannot mix rows in).
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtextextended('metric_snapshots:' || ${options.tenantId}, 0))`,
    );
    let upserted = 0;
    for (let i = 0; i < snapshots.length; i += 100) {
      const rows = snapshots.slice(i, i + 100).map(
        (s) =>
          sql`(${options.tenantId}::uuid, ${s.metric}, ${s.scopeKind}, ${s.scopeId}::uuid, ${s.period},
               ${JSON.stringify(s.payload)}::jsonb, ${dataAsOf}::timestamptz, ${options.runId}::uuid)`,
      );
      await tx.execute(sql`
        insert into metric_snapshots
          (tenant_id, metric, scope_kind, scope_id, period, payload, as_of, refresh_run_id)
        values ${sql.join(rows, sql`, `)}
        on conflict (tenant_id, metric, scope_kind,
                     (coalesce(scope_id, ${sql.raw(`'${TENANT_SCOPE}'::uuid`)})), period)
          where deleted_at is null
        do update set payload = excluded.payload, as_of = excluded.as_of,
                      refresh_run_id = excluded.refresh_run_id`);
      upserted += rows.length;
    }
    const retired = await tx.execute(sql`
      update metric_snapshots set deleted_at = now()
       where deleted_at is null and refresh_run_id is distinct from ${options.runId}::uuid`);
    await options.afterPublish?.(tx, snapshots);
    return { upserted, retired: rowCount(retired) };
  });
}

function rowCount(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}
