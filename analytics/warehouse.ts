/**
 * A tenant's DuckDB warehouse: one file per tenant (`<dir>/<tenantId>.duckdb`), its schema,
 * the refresh transaction and the run log.
 *
 * Atomicity comes from DuckDB itself: a refresh writes every table, the metric snapshots,
 * the watermark and its `refresh_runs` row in ONE transaction. Readers on the instance see
 * the state before or after the commit; a process killed mid-refresh leaves an uncommitted
 * transaction that DuckDB discards when the file is next opened (its WAL has no commit
 * record for it), so the previous state is what remains.
 *
 * DuckDB allows one writing process per file. The caller guarantees one refresh per tenant
 * at a time; opening still waits out a lock held by a process that is shutting down. Within
 * a process, files are attached to one shared engine (`getEngine`), one attachment per file
 * however many users have it open; the last to close detaches it, releasing its lock.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';
import { WAREHOUSE_TABLES, csvColumns, ddlColumns, type WarehouseTable } from './tables.js';
import { isUuid } from '../db/ids.js';

/** Bump when a warehouse-only table (state, runs, snapshots) changes shape. */
const META_VERSION = 1;

export type RefreshMode = 'full' | 'incremental';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

/** Rows a run moved for one table. */
export interface TableCounts {
  /** Rows read from the branch (in incremental mode: changed rows, soft-deleted ones included). */
  extracted: number;
  /** Rows removed from the warehouse: soft-deleted or tombstoned (always 0 in full mode). */
  removed: number;
  /** Rows in the warehouse table after the run. */
  total: number;
}

export interface WarehouseState {
  schemaFingerprint: string;
  /** `pg_current_snapshot()` of the last successful extraction; null before the first. */
  watermark: string | null;
  /** Time zone the timestamps were converted with; a change forces a full rebuild. */
  timezone: string | null;
  lastRunId: string | null;
  lastAsOf: string | null;
}

export interface RefreshRunRow {
  runId: string;
  requestedMode: RefreshMode;
  mode: RefreshMode;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  asOf: string | null;
  rowsPerTable: Record<string, TableCounts> | null;
  watermarkBefore: string | null;
  watermarkAfter: string | null;
  error: string | null;
}

export interface OpenWarehouseOptions {
  /** Directory holding every tenant's file. */
  dir: string;
  tenantId: string;
  /** How long to wait for another process to release the file (default 30 s). */
  lockTimeoutMs?: number;
  /** DuckDB `memory_limit` (default 640MB: the worker's RSS budget is 1 GiB). */
  memoryLimit?: string;
  /** DuckDB `threads` (default: DuckDB's own, the number of cores). */
  threads?: number;
  /** Told when an unreadable file was set aside and a fresh warehouse started. */
  onRebuild?: (reason: string) => void;
}

/** Path of a tenant's warehouse file. */
export function warehousePath(dir: string, tenantId: string): string {
  if (!isUuid(tenantId)) throw new Error('tenant id must be a UUID');
  return join(resolve(dir), `${tenantId.toLowerCase()}.duckdb`);
}

/** A SQL string literal. */
export const lit = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Values bound to `$1`, `$2`, … (text; cast in the statement where needed). */
export type SqlParams = readonly (string | null)[];

/** Anything that runs DuckDB SQL: the warehouse (autocommit) or a writer (in a transaction). */
export interface SqlRunner {
  /** Runs a statement; `params` are bound as text (no SQL literal to parse). */
  run(sql: string, params?: SqlParams): Promise<number>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

async function runSql(conn: DuckDBConnection, sql: string, params?: SqlParams): Promise<number> {
  const result = await conn.run(sql, params ? [...params] : undefined);
  return result.rowsChanged;
}

/**
 * Column types `getRowObjects` reads as plain JS values — the values `getRowObjectsJson`
 * gives, non-finite doubles aside — without converting every value (several times faster
 * on the large reads of a metrics run).
 */
const PLAIN_TYPES: ReadonlySet<DuckDBTypeId> = new Set([
  DuckDBTypeId.BOOLEAN,
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.VARCHAR,
]);

/** Result rows as JSON-compatible objects (BIGINT, DECIMAL, dates, UUIDs as strings). */
async function rowsSql<T>(conn: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql);
  const types = reader.columnTypes();
  if (!types.every((t) => PLAIN_TYPES.has(t.typeId))) return reader.getRowObjectsJson() as T[];
  const rows = reader.getRowObjects() as Record<string, unknown>[];
  const names = reader.deduplicatedColumnNames();
  const doubles = names.filter(
    (_n, i) => types[i]!.typeId === DuckDBTypeId.DOUBLE || types[i]!.typeId === DuckDBTypeId.FLOAT,
  );
  // As the JSON conversion writes them: NaN and ±Infinity as strings.
  for (const c of doubles) {
    for (const r of rows) {
      const v = r[c];
      if (typeof v === 'number' && !Number.isFinite(v)) r[c] = String(v);
    }
  }
  return rows as T[];
}

/** The fingerprint of the extracted tables' DDL: a changed catalog forces a rebuild. */
function catalogFingerprint(): string {
  const ddl = WAREHOUSE_TABLES.map((t) => `${t.name}(${ddlColumns(t)})`).join(';');
  return createHash('sha256').update(`${META_VERSION};${ddl}`).digest('hex').slice(0, 16);
}

const CSV_OPTIONS =
  "header = false, auto_detect = false, delim = '\\t', quote = '', escape = '', nullstr = '\\N'";

/** DDL of the warehouse-only tables. */
const META_DDL = [
  `CREATE TABLE IF NOT EXISTS warehouse_state (
     tenant_id UUID NOT NULL, schema_fingerprint VARCHAR NOT NULL, watermark VARCHAR,
     timezone VARCHAR, last_run_id UUID, last_as_of DATE)`,
  `CREATE TABLE IF NOT EXISTS refresh_runs (
     run_id UUID NOT NULL, requested_mode VARCHAR NOT NULL, mode VARCHAR NOT NULL,
     status VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ,
     as_of DATE, rows_per_table JSON, watermark_before VARCHAR, watermark_after VARCHAR,
     error VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS metric_snapshots (
     metric VARCHAR NOT NULL, scope_kind VARCHAR NOT NULL, scope_id UUID, period VARCHAR NOT NULL,
     as_of DATE NOT NULL, payload VARCHAR NOT NULL, run_id UUID NOT NULL)`,
  // run_id: the run that first produced this payload; hash: of its JSON text (sha1, hex).
  `ALTER TABLE metric_snapshots ADD COLUMN IF NOT EXISTS hash VARCHAR`,
];

function isLockConflict(err: unknown): boolean {
  const m = (err as Error)?.message ?? '';
  return /Could not set lock|Conflicting lock|lock on file/i.test(m);
}

/** An unreadable file: the warehouse is derived data, so it is set aside and rebuilt. */
function isUnreadable(err: unknown): boolean {
  const m = (err as Error)?.message ?? '';
  return /not a valid DuckDB database|Serialization Error|storage version|Corrupt|checksum/i.test(
    m,
  );
}

/**
 * The process's DuckDB engine: one in-memory instance to which each tenant's file is
 * attached while in use. Its buffer memory outlives a refresh (`block_allocator_memory`),
 * so the next one reads the warehouse into memory that is already mapped (first-touch page
 * faults were most of a cold read: a 6 M-row id column took ~350 ms to scan fresh, ~100 ms
 * into mapped memory). Settings (memory limit, threads) are the process's: those of the first open,
 * or of a later open that names them.
 */
let engine: Promise<DuckDBInstance> | null = null;

function getEngine(options: OpenWarehouseOptions): Promise<DuckDBInstance> {
  engine ??= DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit ?? '640MB',
    // Block memory stays mapped between refreshes (up to the limit): in a VM, the page
    // faults of mapping it afresh cost more than reading the blocks themselves.
    block_allocator_memory: options.memoryLimit ?? '640MB',
    // Bulk loads go faster when DuckDB may reorder rows; every query here sorts explicitly.
    preserve_insertion_order: 'false',
    temp_directory: join(resolve(options.dir), '.spill'),
    ...(options.threads ? { threads: String(options.threads) } : {}),
  }).catch((err) => {
    engine = null;
    throw err;
  });
  return engine;
}

/** Runs one statement on a short-lived connection of the engine. */
async function engineRun(instance: DuckDBInstance, sql: string): Promise<void> {
  const conn = await instance.connect();
  try {
    await conn.run(sql);
  } finally {
    conn.closeSync();
  }
}

interface Attachment {
  /** The file's catalog name in the engine. */
  alias: string;
  refs: number;
}
/** Files attached to the engine, by path; one attachment per file (see the module comment). */
const attachments = new Map<string, Promise<Attachment>>();
let attachSeq = 0;
/** Detaches under way, by path: attaching the same file again waits for them. */
const detaching = new Map<string, Promise<unknown>>();

async function attachFile(
  instance: DuckDBInstance,
  path: string,
  alias: string,
  options: OpenWarehouseOptions,
): Promise<void> {
  try {
    await attachLocked(instance, path, alias, options);
  } catch (err) {
    if (!isUnreadable(err)) throw err;
    const aside = `${path}.unreadable-${Date.now()}`;
    await rename(path, aside);
    await rm(`${path}.wal`, { force: true });
    options.onRebuild?.(`${(err as Error).message} (moved to ${aside})`);
    await attachLocked(instance, path, alias, options);
  }
}

async function attachLocked(
  instance: DuckDBInstance,
  path: string,
  alias: string,
  options: OpenWarehouseOptions,
): Promise<void> {
  const deadline = Date.now() + (options.lockTimeoutMs ?? 30_000);
  for (let wait = 50; ; wait = Math.min(wait * 2, 1_000)) {
    try {
      return await engineRun(instance, `ATTACH ${lit(path)} AS "${alias}"`);
    } catch (err) {
      if (!isLockConflict(err) || Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function acquire(
  instance: DuckDBInstance,
  path: string,
  tenantId: string,
  options: OpenWarehouseOptions,
): Promise<string> {
  for (;;) {
    await detaching.get(path)?.catch(() => undefined);
    let shared = attachments.get(path);
    if (!shared) {
      // Unique per attachment: a file of the same tenant elsewhere (another directory) may
      // still be detaching under an earlier alias.
      const alias = `warehouse_${tenantId.replace(/-/g, '')}_${++attachSeq}`;
      shared = attachFile(instance, path, alias, options).then(() => ({ alias, refs: 0 }));
      attachments.set(path, shared);
      shared.catch(() => attachments.delete(path));
    }
    const s = await shared;
    // Detached by its last user while we waited: attach again.
    if (attachments.get(path) !== shared) continue;
    s.refs++;
    return s.alias;
  }
}

async function release(
  instance: DuckDBInstance,
  path: string,
  after: Promise<unknown> = Promise.resolve(),
): Promise<void> {
  const shared = attachments.get(path);
  if (!shared) return;
  const s = await shared;
  if (--s.refs > 0) return;
  attachments.delete(path);
  // Detaching checkpoints the file (folds its WAL in) and releases its lock for other
  // processes. It runs in the background once `after` settles: what the last transaction
  // committed is durable in the WAL already, and attaching the file again (here, or in
  // another process through the file lock) waits for it.
  const detached = after
    .catch(() => undefined)
    .then(() => engineRun(instance, `DETACH "${s.alias}"`))
    .finally(() => {
      if (detaching.get(path) === detached) detaching.delete(path);
    });
  detached.catch(() => undefined);
  detaching.set(path, detached);
}

/** Waits until a tenant's warehouse file, if being detached, is detached. */
export async function warehouseDetached(dir: string, tenantId: string): Promise<void> {
  await detaching.get(warehousePath(dir, tenantId.toLowerCase()))?.catch(() => undefined);
}

/** Opens (creating or upgrading if needed) a tenant's warehouse. Close it when done. */
export async function openWarehouse(options: OpenWarehouseOptions): Promise<Warehouse> {
  const path = warehousePath(options.dir, options.tenantId);
  await mkdir(resolve(options.dir), { recursive: true });
  const instance = await getEngine(options);
  if (options.memoryLimit)
    await engineRun(instance, `SET memory_limit = ${lit(options.memoryLimit)}`);
  if (options.threads) await engineRun(instance, `SET threads = ${Math.floor(options.threads)}`);
  const tenantId = options.tenantId.toLowerCase();
  const alias = await acquire(instance, path, tenantId, options);
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await conn.run(`USE "${alias}"`);
    const w = new Warehouse(path, tenantId, alias, conn, (after) => release(instance, path, after));
    await w.ensureSchema();
    return w;
  } catch (err) {
    conn?.closeSync();
    await release(instance, path);
    throw err;
  }
}

export class Warehouse implements SqlRunner {
  private closed = false;
  private busy = false;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly tenantId: string,
    /** The file's catalog in the process's engine (the connection's default). */
    readonly catalog: string,
    private readonly conn: DuckDBConnection,
    private readonly detach: (after?: Promise<unknown>) => Promise<void>,
  ) {}

  /** Runs a statement (autocommit); not while a transaction is open: use its writer. */
  run(sql: string, params?: SqlParams): Promise<number> {
    return this.serial(() => runSql(this.conn, sql, params));
  }

  rows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.serial(() => rowsSql<T>(this.conn, sql));
  }

  /** One statement at a time on the connection, never inside someone's transaction. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) {
      return Promise.reject(new Error('a transaction is open on this warehouse: use its writer'));
    }
    if (this.closed) return Promise.reject(new Error('the warehouse is closed'));
    const next = this.pending.then(fn, fn);
    this.pending = next.catch(() => undefined);
    return next;
  }

  /**
   * Creates the schema on a new file; on a file whose extracted-table catalog differs from
   * this code's, drops the derived tables and the watermark so the next refresh is full.
   * The run log survives.
   */
  async ensureSchema(): Promise<void> {
    for (const ddl of META_DDL) await this.run(ddl);
    // Payloads are JSON text as the refresh wrote them (hashed, then published as is):
    // nothing here parses them, so files from before hold them as text too.
    const [payload] = await this.rows<{ type: string }>(
      `SELECT data_type AS type FROM information_schema.columns
        WHERE table_catalog = current_database() AND table_name = 'metric_snapshots'
          AND column_name = 'payload'`,
    );
    if (payload && payload.type !== 'VARCHAR') {
      await this.run(`ALTER TABLE metric_snapshots ALTER COLUMN payload SET DATA TYPE VARCHAR`);
    }
    const fingerprint = catalogFingerprint();
    const [state] = await this.rows<{ tenant_id: string; schema_fingerprint: string }>(
      `SELECT tenant_id::VARCHAR AS tenant_id, schema_fingerprint FROM warehouse_state`,
    );
    if (state && state.tenant_id !== this.tenantId) {
      throw new Error(`warehouse ${this.path} belongs to another tenant`);
    }
    if (state?.schema_fingerprint === fingerprint) return;
    await this.transaction(async (tx) => {
      for (const t of WAREHOUSE_TABLES)
        await tx.run(`CREATE OR REPLACE TABLE "${t.name}" (${ddlColumns(t)})`);
      await tx.run(`DELETE FROM metric_snapshots`);
      await tx.run(`DELETE FROM warehouse_state`);
      await tx.run(
        `INSERT INTO warehouse_state VALUES (${lit(this.tenantId)}, ${lit(fingerprint)}, NULL, NULL, NULL, NULL)`,
      );
    });
  }

  async state(): Promise<WarehouseState> {
    const [s] = await this.rows<{
      schema_fingerprint: string;
      watermark: string | null;
      timezone: string | null;
      last_run_id: string | null;
      last_as_of: string | null;
    }>(`SELECT schema_fingerprint, watermark, timezone, last_run_id::VARCHAR AS last_run_id,
               last_as_of::VARCHAR AS last_as_of FROM warehouse_state`);
    if (!s) throw new Error('warehouse has no state row');
    return {
      schemaFingerprint: s.schema_fingerprint,
      watermark: s.watermark,
      timezone: s.timezone,
      lastRunId: s.last_run_id,
      lastAsOf: s.last_as_of,
    };
  }

  /** The run log, newest first. */
  async refreshRuns(limit = 50): Promise<RefreshRunRow[]> {
    const rows = await this.rows<Record<string, string | null>>(
      `SELECT run_id::VARCHAR AS run_id, requested_mode, mode, status,
              strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS started_at,
              strftime(finished_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS finished_at,
              as_of::VARCHAR AS as_of, rows_per_table::VARCHAR AS rows_per_table,
              watermark_before, watermark_after, error
         FROM refresh_runs ORDER BY started_at DESC, run_id LIMIT ${Math.max(1, Math.floor(limit))}`,
    );
    return rows.map((r) => ({
      runId: r.run_id!,
      requestedMode: r.requested_mode as RefreshMode,
      mode: r.mode as RefreshMode,
      status: r.status as RunStatus,
      startedAt: r.started_at!,
      finishedAt: r.finished_at ?? null,
      asOf: r.as_of ?? null,
      rowsPerTable: r.rows_per_table
        ? (JSON.parse(r.rows_per_table) as Record<string, TableCounts>)
        : null,
      watermarkBefore: r.watermark_before ?? null,
      watermarkAfter: r.watermark_after ?? null,
      error: r.error ?? null,
    }));
  }

  /**
   * Records a run as started (committed on its own, so a run killed mid-refresh stays
   * visible). Runs still marked running were killed: only one refresh per tenant runs.
   */
  async startRun(run: {
    runId: string;
    requestedMode: RefreshMode;
    mode: RefreshMode;
    watermarkBefore: string | null;
  }): Promise<void> {
    await this.run(
      `UPDATE refresh_runs SET status = 'abandoned', finished_at = now(),
              error = coalesce(error, 'the refresh did not finish (process stopped)')
        WHERE status = 'running'`,
    );
    await this.run(
      `INSERT INTO refresh_runs (run_id, requested_mode, mode, status, started_at, watermark_before)
       VALUES (${lit(run.runId)}, ${lit(run.requestedMode)}, ${lit(run.mode)}, 'running', now(),
               ${run.watermarkBefore === null ? 'NULL' : lit(run.watermarkBefore)})`,
    );
  }

  /** Marks a run failed, after its transaction rolled back. */
  async failRun(runId: string, error: string, asOf: string | null): Promise<void> {
    await this.run(
      `UPDATE refresh_runs SET status = 'failed', finished_at = now(), error = ${lit(error.slice(0, 4000))},
              as_of = ${asOf ? `DATE ${lit(asOf)}` : 'NULL'}
        WHERE run_id = ${lit(runId)}`,
    );
  }

  /**
   * Runs `fn` in one DuckDB transaction: everything it writes commits together or not at
   * all. Not reentrant: one writer per warehouse.
   */
  async transaction<T>(fn: (tx: WarehouseWriter) => Promise<T>): Promise<T> {
    if (this.busy) throw new Error('a warehouse transaction is already open');
    if (this.closed) throw new Error('the warehouse is closed');
    await this.pending;
    this.busy = true;
    const tx = new WarehouseWriter(this.conn);
    try {
      await runSql(this.conn, 'BEGIN TRANSACTION');
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await tx.settle();
        await runSql(this.conn, 'ROLLBACK').catch(() => undefined);
        throw err;
      }
      await tx.settle();
      await runSql(this.conn, 'COMMIT');
      return result;
    } finally {
      await tx.dropTemporaries();
      this.busy = false;
    }
  }

  /** Folds the WAL into the file and frees the blocks of replaced tables. */
  async checkpoint(): Promise<void> {
    await this.run(`CHECKPOINT "${this.catalog}"`);
  }

  /**
   * Disconnects. When the last user in this process has closed, the file is detached in the
   * background, once `detachAfter` (if given) settles (`warehouseDetached` waits for it).
   */
  async close(detachAfter?: Promise<unknown>): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pending;
    this.conn.closeSync();
    await this.detach(detachAfter);
  }
}

/** A table being loaded in a transaction, one chunk file at a time. */
export interface TableLoad {
  readonly table: WarehouseTable;
  /** Appends one chunk (COPY text-format lines) to the table or its staging table. */
  addChunk(path: string): Promise<void>;
  /** Applies staged changes (incremental) and returns the table's counts. */
  finish(extracted: number): Promise<TableCounts>;
}

/** The write side of a warehouse transaction. */
export class WarehouseWriter implements SqlRunner {
  private readonly temporaries = new Set<string>();
  private pending: Promise<unknown> = Promise.resolve();
  private readonly deltaTables = new Set<string>();
  private tombCounts: Promise<Map<string, number>> | null = null;

  constructor(private readonly conn: DuckDBConnection) {}

  run(sql: string, params?: SqlParams): Promise<number> {
    return this.serial(() => runSql(this.conn, sql, params));
  }

  rows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.serial(() => rowsSql<T>(this.conn, sql));
  }

  /** One statement at a time on the connection, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.pending.then(fn, fn);
    this.pending = next.catch(() => undefined);
    return next;
  }

  /** Waits for statements already issued (before a rollback). */
  async settle(): Promise<void> {
    await this.pending;
  }

  async dropTemporaries(): Promise<void> {
    const names = [...this.temporaries];
    this.temporaries.clear();
    if (names.length === 0) return;
    await runSql(
      this.conn,
      names.map((name) => `DROP TABLE IF EXISTS temp."${name}"`).join(';\n'),
    ).catch(() => undefined);
  }

  /** A temporary table that is dropped when the transaction ends (queued, not awaited). */
  temporary(name: string, ddl: string): Promise<number> {
    this.temporaries.add(name);
    return this.queued(`CREATE OR REPLACE TEMP TABLE "${name}" ${ddl}`);
  }

  /**
   * Incremental merges of these tables keep their changes in `temp._delta_<table>`: every
   * column plus `_old` — the replaced or removed rows as they were (`true`) and the rows as
   * they now are (`false`). Incremental metric maintenance reads the keys that changed there.
   */
  keepDeltas(tables: Iterable<string>): void {
    for (const t of tables) this.deltaTables.add(t);
  }

  /** Queues a statement whose failure surfaces through a later statement or `finish`. */
  private queued(sql: string): Promise<number> {
    const p = this.run(sql);
    p.catch(() => undefined);
    return p;
  }

  /**
   * Rebuilds a table from scratch (full mode). Returns at once: the statements are queued
   * on the connection, so the caller can stream the next table meanwhile.
   */
  replace(table: WarehouseTable): TableLoad {
    const ready = this.queued(`CREATE OR REPLACE TABLE "${table.name}" (${ddlColumns(table)})`);
    return {
      table,
      addChunk: (path) =>
        this.run(
          `INSERT INTO "${table.name}" SELECT * FROM read_csv(${lit(path)}, ${CSV_OPTIONS}, columns = ${csvColumns(table)})`,
        ).then(() => undefined),
      finish: async (extracted) => {
        await ready;
        return { extracted, removed: 0, total: await this.count(table.name) };
      },
    };
  }

  /**
   * Upserts changed rows by id (incremental mode). Chunks carry a trailing `_deleted` flag;
   * `finish` removes tombstoned and soft-deleted rows, then replaces the changed ones.
   */
  merge(table: WarehouseTable): TableLoad {
    const stage = `_stage_${table.name}`;
    const ready = this.temporary(stage, `(${ddlColumns(table)}, _deleted BOOLEAN)`);
    const cols = table.columns.map((c) => `"${c.name}"`).join(', ');
    return {
      table,
      addChunk: (path) =>
        this.run(
          `INSERT INTO temp."${stage}" SELECT * FROM read_csv(${lit(path)}, ${CSV_OPTIONS}, columns = ${csvColumns(table, [{ name: '_deleted', type: 'BOOLEAN' }])})`,
        ).then(() => undefined),
      finish: async (extracted) => {
        await ready;
        const tombs = (await this.tombstoneCounts()).get(table.name) ?? 0;
        if (extracted === 0 && tombs === 0) {
          // Nothing changed: nothing to look for, and no delta to keep.
          await this.run(`DROP TABLE temp."${stage}"`);
          this.temporaries.delete(stage);
          return { extracted, removed: 0, total: await this.count(table.name) };
        }
        // The ids this run replaces or removes; one hash join finds their warehouse rows (as
        // they were, when the delta is kept), which are then deleted by row id.
        const keepDelta = this.deltaTables.has(table.name);
        const keys = `_keys_${table.name}`;
        await this.temporary(
          keys,
          `AS SELECT id, bool_or(gone) AS gone FROM (
               SELECT row_id AS id, true AS gone FROM temp._tombstones WHERE table_name = ${lit(table.name)}
               UNION ALL SELECT id, _deleted FROM temp."${stage}")
             GROUP BY id`,
        );
        const hits = `_hits_${table.name}`;
        await this.temporary(
          hits,
          `AS SELECT t.rowid AS rid, k.gone${keepDelta ? ', t.*' : ''}
               FROM "${table.name}" t JOIN temp."${keys}" k ON k.id = t.id`,
        );
        const [hit] = await this.rows<{ n: number; gone: number }>(
          `SELECT count(*)::INTEGER AS n, count(*) FILTER (gone)::INTEGER AS gone FROM temp."${hits}"`,
        );
        // A short list of row ids is given as constants, which the scan filters on directly.
        const rowids =
          hit!.n <= 10_000
            ? (await this.rows<{ r: string }>(`SELECT rid::VARCHAR AS r FROM temp."${hits}"`))
                .map((h) => h.r)
                .join(', ') || 'NULL'
            : `SELECT rid FROM temp."${hits}"`;
        if (keepDelta) {
          await this.temporary(
            `_delta_${table.name}`,
            `AS SELECT ${cols}, true AS _old FROM temp."${hits}"`,
          );
        }
        if (hit!.n > 0) {
          await this.run(`DELETE FROM "${table.name}" WHERE rowid IN (${rowids})`);
        }
        if (extracted > 0) {
          await this.run(
            `INSERT INTO "${table.name}" SELECT ${cols} FROM temp."${stage}" WHERE NOT _deleted`,
          );
        }
        if (keepDelta && extracted > 0) {
          await this.run(
            `INSERT INTO temp."_delta_${table.name}" SELECT ${cols}, false FROM temp."${stage}" WHERE NOT _deleted`,
          );
        }
        for (const t of [stage, keys, hits]) {
          await this.run(`DROP TABLE temp."${t}"`);
          this.temporaries.delete(t);
        }
        return {
          extracted,
          removed: hit!.gone,
          total: await this.count(table.name),
        };
      },
    };
  }

  /** Whether this run's tombstones (`tombstones()`) name rows of `table`. */
  async hasTombstones(table: string): Promise<boolean> {
    return ((await this.tombstoneCounts()).get(table) ?? 0) > 0;
  }

  /** Tombstoned rows of this run per table (none before `tombstones()`). */
  private tombstoneCounts(): Promise<Map<string, number>> {
    if (!this.temporaries.has('_tombstones')) return Promise.resolve(new Map());
    this.tombCounts ??= this.rows<{ t: string; n: number }>(
      `SELECT table_name AS t, count(*)::INTEGER AS n FROM temp._tombstones GROUP BY ALL`,
    ).then((rows) => new Map(rows.map((r) => [r.t, r.n])));
    return this.tombCounts;
  }

  /** The tombstones of an incremental run: (table_name, row_id) chunks. */
  tombstones(): { addChunk(path: string): Promise<void> } {
    this.temporary('_tombstones', '(table_name VARCHAR, row_id UUID)');
    return {
      addChunk: (path) =>
        this.run(
          `INSERT INTO temp._tombstones SELECT * FROM read_csv(${lit(path)}, ${CSV_OPTIONS}, columns = {'table_name': 'VARCHAR', 'row_id': 'UUID'})`,
        ).then(() => undefined),
    };
  }

  /** Row counts of `tables`, in one statement. */
  async counts(tables: readonly string[]): Promise<Map<string, number>> {
    if (tables.length === 0) return new Map();
    const rows = await this.rows<{ t: string; n: number }>(
      tables
        .map((t) => `SELECT ${lit(t)} AS t, count(*)::INTEGER AS n FROM "${t}"`)
        .join('\nUNION ALL '),
    );
    return new Map(rows.map((r) => [r.t, r.n]));
  }

  async count(table: string): Promise<number> {
    const [r] = await this.rows<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM "${table}"`);
    return r?.n ?? 0;
  }

  /** Stores the new watermark and completes the run row, inside the refresh transaction. */
  async completeRun(run: {
    runId: string;
    asOf: string;
    timezone: string;
    rowsPerTable: Record<string, TableCounts>;
    watermarkAfter: string;
  }): Promise<void> {
    await this.run(
      `UPDATE warehouse_state SET watermark = ${lit(run.watermarkAfter)}, timezone = ${lit(run.timezone)},
              last_run_id = ${lit(run.runId)}, last_as_of = DATE ${lit(run.asOf)}`,
    );
    await this.run(
      `UPDATE refresh_runs SET status = 'succeeded', finished_at = now(), as_of = DATE ${lit(run.asOf)},
              rows_per_table = ${lit(JSON.stringify(run.rowsPerTable))}, watermark_after = ${lit(run.watermarkAfter)}
        WHERE run_id = ${lit(run.runId)}`,
    );
  }
}
