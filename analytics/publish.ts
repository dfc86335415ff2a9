/**
 * Publishes a refresh's metric snapshots into the tenant's branch: ONE PostgreSQL
 * transaction, tenant context set, connected as the app role.
 *
 * Each (metric, scope, period) row whose published payload is not already this one is
 * upserted on the `metric_snapshots_key` unique index (live rows only); rows of keys the
 * refresh no longer produced are soft-deleted. A reader (READ COMMITTED) sees every row of
 * one publication or every row of the next. Upserting rather than delete-and-insert keeps
 * row ids stable and leaves no tombstones or dead duplicates behind every 15 minutes.
 *
 * Unchanged rows are left alone: `payloadRuns` names, per snapshot, the run that first
 * produced its payload, and a live row with that `refresh_run_id` already holds it. Such a
 * row keeps its `as_of` and `refresh_run_id` — `as_of` says when the data behind the figures
 * was read for the last change, which stays true while the figures do not change.
 *
 * `planPublication` and `writePublication` are the two halves in a transaction of the
 * caller's: the worker stores the dashboard pages in the same one, so pages and figures
 * always match, and starts rendering them between the two, while the rows are written.
 */
import { sql } from 'drizzle-orm';
import { rowsOf, type Db, type DbSchema, type Tx } from '../db/connection.js';
import { withTenant } from '../db/tenancy.js';
import { snapshotKey, type PayloadRuns } from './metrics/index.js';
import type { AnySnapshot } from './metrics/types.js';

const TENANT_SCOPE = '00000000-0000-0000-0000-000000000000';

export interface PublishOptions {
  tenantId: string;
  /** The refresh run the snapshots come from (`metric_snapshots.refresh_run_id`). */
  runId: string;
  snapshots: readonly AnySnapshot[];
  /**
   * By `snapshotKey`, the run that first produced each payload (`RefreshResult.payloadRuns`);
   * missing keys: `runId`. Rows already published from that run are not rewritten.
   */
  payloadRuns?: Readonly<PayloadRuns>;
  /** By `snapshotKey`, payloads already as JSON text (`RefreshResult.payloadJson`). */
  payloadJson?: ReadonlyMap<string, string>;
  /** `metric_snapshots.as_of`: when the data was read (default: the snapshots' as-of date, 00:00 UTC). */
  dataAsOf?: string | Date;
}

/** What a publication is about to write (`planPublication`), before anything is written. */
export interface PublishPlan {
  options: PublishOptions;
  /** Every snapshot of the publication. */
  snapshots: readonly AnySnapshot[];
  /** The snapshots whose live row does not hold their payload yet: upserted. */
  rewriting: readonly AnySnapshot[];
  /** `snapshotKey`s of live rows no longer produced: soft-deleted. */
  retiring: readonly string[];
  /** The `as_of` the rewritten rows get. */
  dataAsOf: string;
}

export interface PublishResult {
  /** Snapshot rows inserted or updated. */
  upserted: number;
  /** Milliseconds spent upserting the changed rows (JSON text sent, jsonb stored). */
  upsertMs: number;
  /** Rows already holding this payload, left untouched. */
  unchanged: number;
  /** Rows of scopes no longer produced, soft-deleted. */
  retired: number;
}

/** Brings the tenant's published metric snapshots up to date in one transaction. */
export async function publishSnapshots<TSchema extends DbSchema>(
  db: Db<TSchema>,
  options: PublishOptions,
): Promise<PublishResult> {
  return withTenant(db, options.tenantId, async (tx) =>
    writePublication(tx, await planPublication(tx, options)),
  );
}

/**
 * Takes the tenant's publication lock and reads what is live: which rows the publication
 * will rewrite and which it will retire. `tx` is a tenant transaction (`withTenant`).
 */
export async function planPublication<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  options: PublishOptions,
): Promise<PublishPlan> {
  const { snapshots } = options;
  const asOfDates = new Set(snapshots.map((s) => s.asOf));
  if (asOfDates.size > 1) throw new Error('snapshots of one publication share one as-of date');
  const dataAsOf =
    options.dataAsOf instanceof Date
      ? options.dataAsOf.toISOString()
      : (options.dataAsOf ??
        `${snapshots[0]?.asOf ?? new Date().toISOString().slice(0, 10)}T00:00:00Z`);

  // Publications of one tenant never interleave (a delayed older run cannot mix rows in).
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended('metric_snapshots:' || ${options.tenantId}, 0))`,
  );
  const live = new Map(
    rowsOf<{
      metric: string;
      scope_kind: string;
      scope_id: string | null;
      period: string;
      run: string | null;
    }>(
      await tx.execute(sql`
        select metric, scope_kind, scope_id::text as scope_id, period, refresh_run_id::text as run
          from metric_snapshots where deleted_at is null`),
    ).map((r) => [
      snapshotKey({
        metric: r.metric as AnySnapshot['metric'],
        scopeKind: r.scope_kind as AnySnapshot['scopeKind'],
        scopeId: r.scope_id,
        period: r.period as AnySnapshot['period'],
      }),
      r.run,
    ]),
  );
  const rewriting = snapshots.filter((s) => {
    const key = snapshotKey(s);
    const run = options.payloadRuns?.[key] ?? options.runId;
    return live.get(key) !== run;
  });
  const producedKeys = new Set(snapshots.map(snapshotKey));
  return {
    options,
    snapshots,
    rewriting,
    retiring: [...live.keys()].filter((k) => !producedKeys.has(k)),
    dataAsOf,
  };
}

/** Upserts the rows `plan` rewrites and soft-deletes the rows it retires, in `tx`. */
export async function writePublication<TSchema extends DbSchema>(
  tx: Tx<TSchema>,
  plan: PublishPlan,
): Promise<PublishResult> {
  const { options, snapshots, rewriting, dataAsOf } = plan;
  const upsertStarted = performance.now();
  for (let i = 0; i < rewriting.length; i += 100) {
    const rows = rewriting.slice(i, i + 100).map(
      (s) =>
        sql`(${options.tenantId}::uuid, ${s.metric}, ${s.scopeKind}, ${s.scopeId}::uuid, ${s.period},
             ${options.payloadJson?.get(snapshotKey(s)) ?? JSON.stringify(s.payload)}::json,
             ${dataAsOf}::timestamptz,
             ${options.payloadRuns?.[snapshotKey(s)] ?? options.runId}::uuid)`,
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
  }
  const upsertMs = Math.round(performance.now() - upsertStarted);
  const produced = JSON.stringify(
    snapshots.map((s) => ({
      metric: s.metric,
      scope_kind: s.scopeKind,
      scope_id: s.scopeId ?? TENANT_SCOPE,
      period: s.period,
    })),
  );
  const retired = await tx.execute(sql`
    update metric_snapshots m set deleted_at = now()
     where m.deleted_at is null
       and not exists (
         select 1 from jsonb_to_recordset(${produced}::jsonb)
                  as k(metric text, scope_kind text, scope_id uuid, period text)
          where k.metric = m.metric and k.scope_kind = m.scope_kind
            and k.scope_id = coalesce(m.scope_id, ${sql.raw(`'${TENANT_SCOPE}'::uuid`)})
            and k.period = m.period)`);
  return {
    upserted: rewriting.length,
    upsertMs,
    unchanged: snapshots.length - rewriting.length,
    retired: rowCount(retired),
  };
}

function rowCount(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}
