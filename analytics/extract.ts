/**
 * Extraction from a tenant's branch into its warehouse.
 *
 * Connected as the APP ROLE (never a superuser): one `REPEATABLE READ READ ONLY`
 * transaction with the tenant context set, so row-level security still filters and every
 * table is read from one consistent snapshot. Each table is streamed with
 * `COPY (SELECT …) TO STDOUT` (text format) into chunk files of a few tens of MB that
 * DuckDB's CSV reader loads while PostgreSQL streams the next chunk: no table is ever held
 * in JS memory, and the two sides work in parallel.
 *
 * Incremental mode reads, per table, the rows whose writer was not yet visible in the
 * previous extraction's snapshot (`changed_xid >= xmin(prev) and not visible(changed_xid,
 * prev)`), so a row committed by a transaction still in flight back then is picked up now.
 * Soft-deleted rows come along with a delete flag; hard deletes come from `row_tombstones`.
 * The new watermark is this transaction's own `pg_current_snapshot()`.
 */
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { WAREHOUSE_TABLES, type WarehouseTable } from './tables.js';
import type { RefreshMode, TableCounts } from './warehouse/run-log.js';
import type { TableLoad, WarehouseWriter } from './warehouse/writer.js';
import { isUuid } from '../db/ids.js';

const SNAPSHOT = /^\d+:\d+:(\d+(,\d+)*)?$/;

export interface ExtractOptions {
  tenantId: string;
  /** App-role connection string of the tenant's branch. */
  branchUrl: string;
  mode: RefreshMode;
  /** Watermark of the previous extraction; required in incremental mode. */
  since: string | null;
  /** IANA zone timestamps are converted to (wall-clock TIMESTAMP columns). */
  timezone: string;
  /** Scratch directory for chunk files; created and removed here. */
  tmpDir: string;
  /** Chunk size: larger is faster, smaller bounds disk use (default 64 MiB). */
  chunkBytes?: number;
  /** Chunks written ahead of DuckDB before the COPY stream waits (default 2). */
  maxPendingChunks?: number;
  /** Only these tables (default: the whole catalog). */
  tables?: readonly WarehouseTable[];
  /** Called after each table is loaded (tests inject failures here). */
  afterTable?: (table: string, counts: TableCounts) => void | Promise<void>;
}

export interface ExtractResult {
  /** `pg_current_snapshot()` of the extraction transaction: the next run's watermark. */
  snapshot: string;
  /** The transaction's `now()`, ISO-8601 UTC: what the data is "as of". */
  extractedAt: string;
  /** Today's date in the extraction time zone (`YYYY-MM-DD`). */
  today: string;
  rowsPerTable: Record<string, TableCounts>;
}

/**
 * Rows last written by a transaction the previous extraction's snapshot could not see:
 * committed after it, or still in flight when it was taken.
 */
function changedSince(since: string): string {
  const s = `'${since}'::pg_snapshot`;
  return `changed_xid >= pg_snapshot_xmin(${s}) and not pg_visible_in_snapshot(changed_xid, ${s})`;
}

/** The COPY statement of one table. */
export function extractSql(table: WarehouseTable, mode: RefreshMode, since: string | null): string {
  const cols = table.columns.map((c) => `${c.select} as "${c.name}"`).join(', ');
  if (mode === 'full') {
    const where = table.softDelete ? ' where deleted_at is null' : '';
    return `copy (select ${cols} from "${table.name}"${where}) to stdout`;
  }
  if (!since) throw new Error('incremental extraction needs a watermark');
  const deleted = table.softDelete ? 'deleted_at is not null' : 'false';
  return `copy (select ${cols}, ${deleted} as _deleted from "${table.name}" where ${changedSince(since)}) to stdout`;
}

/**
 * Streams the tenant's tables into `tx`. Runs inside the caller's warehouse transaction;
 * on error nothing is committed there and the branch transaction is rolled back.
 */
export async function extractInto(
  tx: WarehouseWriter,
  options: ExtractOptions,
): Promise<ExtractResult> {
  if (!isUuid(options.tenantId)) throw new Error('tenant id must be a UUID');
  if (options.mode === 'incremental' && !(options.since && SNAPSHOT.test(options.since))) {
    throw new Error('incremental extraction needs a valid watermark snapshot');
  }
  const tables = options.tables ?? WAREHOUSE_TABLES;
  const chunks = new ChunkPipeline(options.tmpDir, options.chunkBytes, options.maxPendingChunks);
  await mkdir(options.tmpDir, { recursive: true });
  const client = new pg.Client({
    connectionString: options.branchUrl,
    application_name: 'homeroom-analytics-extract',
  });
  // A broken connection surfaces as a failed query; this only keeps the process alive.
  client.on('error', () => undefined);
  await client.connect();
  const finishes: Promise<void>[] = [];
  let failure: unknown;
  try {
    // Fail closed: a superuser or BYPASSRLS role would read past row-level security.
    const role = await client.query<{ privileged: boolean }>(
      `select rolsuper or rolbypassrls as privileged from pg_roles where rolname = current_user`,
    );
    if (role.rows[0]?.privileged !== false) {
      throw new Error(
        'extraction must connect as the app role (not a superuser or BYPASSRLS role)',
      );
    }
    await client.query('begin isolation level repeatable read read only');
    // The first statement fixes the transaction's snapshot; RLS then reads app.tenant_id.
    const ctx = await client.query<{ snapshot: string; now: string; today: string }>(
      `select set_config('app.tenant_id', $1, true),
              set_config('TimeZone', $2, true),
              set_config('DateStyle', 'ISO, YMD', true),
              pg_current_snapshot()::text as snapshot,
              to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as now,
              (now() at time zone $2)::date::text as today`,
      [options.tenantId, options.timezone],
    );
    const { snapshot, now, today } = ctx.rows[0]!;

    if (options.mode === 'incremental') {
      const tombs = tx.tombstones();
      const names = tables.map((t) => `'${t.name}'`).join(', ');
      await chunks.copy(
        client,
        `copy (select table_name, row_id from row_tombstones where table_name in (${names}) and ${changedSince(options.since!)}) to stdout`,
        'tombstones',
        (path) => tombs.addChunk(path),
      ).loaded;
    }

    // Incremental: one round trip tells which tables have changed rows (index probes on
    // changed_xid); the others are not copied at all.
    let changed: Record<string, boolean> | null = null;
    if (options.mode === 'incremental') {
      const probe = await client.query<Record<string, boolean>>(
        `select ${tables
          .map(
            (t) =>
              `exists (select 1 from "${t.name}" where ${changedSince(options.since!)}) as "${t.name}"`,
          )
          .join(', ')}`,
      );
      changed = probe.rows[0]!;
    }

    const rowsPerTable: Record<string, TableCounts> = {};
    // Tables with neither changed rows nor tombstones are left as they are.
    const untouched: string[] = [];
    for (const table of tables) {
      if (failure) break;
      if (changed && !changed[table.name] && !(await tx.hasTombstones(table.name))) {
        untouched.push(table.name);
        continue;
      }
      const load: TableLoad = options.mode === 'full' ? tx.replace(table) : tx.merge(table);
      const copied = chunks.copy(
        client,
        extractSql(table, options.mode, options.since),
        table.name,
        load.addChunk,
      );
      const rows = await copied.rows;
      // DuckDB finishes this table while PostgreSQL streams the next one.
      const finished = copied.loaded
        .then(() => load.finish(rows))
        .then(async (counts) => {
          rowsPerTable[table.name] = counts;
          await options.afterTable?.(table.name, counts);
        });
      finished.catch((err) => (failure ??= err));
      finishes.push(finished);
    }
    await client.query('commit');
    await Promise.all(finishes);
    if (failure) throw failure;
    for (const [name, total] of await tx.counts(untouched)) {
      rowsPerTable[name] = { extracted: 0, removed: 0, total };
      await options.afterTable?.(name, rowsPerTable[name]);
    }
    // Catalog order, whatever order DuckDB finished the tables in.
    const ordered = Object.fromEntries(tables.map((t) => [t.name, rowsPerTable[t.name]!] as const));
    return { snapshot, extractedAt: now, today, rowsPerTable: ordered };
  } catch (err) {
    await Promise.allSettled(finishes);
    await chunks.settle();
    throw err;
  } finally {
    await client.end().catch(() => undefined);
    await rm(options.tmpDir, { recursive: true, force: true });
  }
}

/** COPY streams cut into chunk files that a loader consumes in order. */
class ChunkPipeline {
  private seq = 0;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly dir: string,
    private readonly chunkBytes = 64 * 1024 * 1024,
    private readonly maxPending = 2,
  ) {}

  /**
   * Runs one COPY. `rows` resolves when PostgreSQL has sent everything (the connection is
   * then free for the next COPY); `loaded` when every chunk has been loaded.
   */
  copy(
    client: pg.Client,
    sql: string,
    label: string,
    load: (path: string) => Promise<void>,
  ): { rows: Promise<number>; loaded: Promise<void> } {
    const loads: Promise<void>[] = [];
    const sink = new ChunkSink(
      () => join(this.dir, `${label}.${this.seq++}.tsv`),
      this.chunkBytes,
      (path) => {
        const p = load(path).finally(() => rm(path, { force: true }));
        this.track(p);
        loads.push(p);
        return p;
      },
      this.maxPending,
    );
    const stream = client.query(copyTo(sql));
    const rows = pipeline(stream, sink).then(() => stream.rowCount);
    const loaded = rows.then(() => Promise.all(loads)).then(() => undefined);
    // Observed by the caller; these only prevent an unhandled rejection meanwhile.
    rows.catch(() => undefined);
    loaded.catch(() => undefined);
    return { rows, loaded };
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
  }

  /** Waits for loads already started (before the scratch files are removed). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }
}

/**
 * Writes a byte stream of COPY lines into files of about `chunkBytes`, cut at line ends,
 * handing each finished file to `load`. At most `maxPending` files wait for the loader;
 * beyond that the stream waits (backpressure to PostgreSQL).
 */
class ChunkSink extends Writable {
  private file: FileHandle | null = null;
  private path = '';
  private size = 0;
  private readonly pending: Promise<void>[] = [];

  constructor(
    private readonly nextPath: () => string,
    private readonly chunkBytes: number,
    private readonly load: (path: string) => Promise<void>,
    private readonly maxPending: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.append(chunk).then(() => cb(), cb);
  }

  /** Seals the last file; its load is awaited through `loaded`, not here. */
  override _final(cb: (err?: Error | null) => void): void {
    this.seal().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const file = this.file;
    this.file = null;
    (file ? file.close() : Promise.resolve()).then(
      () => cb(err),
      () => cb(err),
    );
  }

  private async append(chunk: Buffer): Promise<void> {
    if (!this.file) {
      this.path = this.nextPath();
      this.file = await open(this.path, 'w');
      this.size = 0;
    }
    if (this.size + chunk.length < this.chunkBytes) {
      await this.file.write(chunk);
      this.size += chunk.length;
      return;
    }
    const cut = chunk.lastIndexOf(10) + 1;
    if (cut === 0) {
      // No line end in this piece: the current line continues, keep writing.
      await this.file.write(chunk);
      this.size += chunk.length;
      return;
    }
    await this.file.write(chunk.subarray(0, cut));
    this.size += cut;
    await this.seal();
    if (cut < chunk.length) await this.append(chunk.subarray(cut));
  }

  /** Closes the current file and queues it for loading. */
  private async seal(): Promise<void> {
    if (!this.file) return;
    const file = this.file;
    this.file = null;
    await file.close();
    if (this.size === 0) {
      await rm(this.path, { force: true });
      return;
    }
    const p = this.load(this.path);
    p.catch(() => undefined);
    this.pending.push(p);
    while (this.pending.length > this.maxPending) await this.pending.shift();
  }
}
