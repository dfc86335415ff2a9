/**
 * The write side of the warehouse's one transaction (`Warehouse.begin`): tables replaced
 * (full) or merged by id (incremental) from extracted chunk files, the changes kept for the
 * metrics, temporaries dropped when the transaction ends.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { csvColumns, ddlColumns, type WarehouseTable } from '../tables.js';
import type { TableCounts } from './run-log.js';
import { lit, rowsSql, runSql, type SqlParams, type SqlRunner } from './sql.js';

const CSV_OPTIONS =
  "header = false, auto_detect = false, delim = '\\t', quote = '', escape = '', nullstr = '\\N'";

/** A table being loaded in a transaction, one chunk file at a time. */
export interface TableLoad {
  readonly table: WarehouseTable;
  /** Appends one chunk (COPY text-format lines) to the table or its staging table. */
  addChunk(path: string): Promise<void>;
  /** Applies staged changes (incremental) and returns the table's counts. */
  finish(extracted: number): Promise<TableCounts>;
}

/** The write side of a warehouse transaction (`Warehouse.begin`). */
export class WarehouseWriter implements SqlRunner {
  private readonly temporaries = new Set<string>();
  private pending: Promise<unknown> = Promise.resolve();
  private readonly deltaTables = new Set<string>();
  private tombCounts: Promise<Map<string, number>> | null = null;
  private open = true;

  constructor(
    private readonly conn: DuckDBConnection,
    /** Told once the transaction has ended (committed or rolled back). */
    private readonly ended: () => void,
  ) {}

  /** Commits what the transaction wrote. Whether it succeeds or not, the transaction ends. */
  async commit(): Promise<void> {
    await this.end('COMMIT');
  }

  /** Rolls the transaction back (waiting for statements already issued); no-op once ended. */
  async rollback(): Promise<void> {
    await this.end('ROLLBACK').catch(() => undefined);
  }

  private async end(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    if (!this.open) return;
    this.open = false;
    try {
      await this.settle();
      await runSql(this.conn, statement);
    } finally {
      await this.dropTemporaries();
      this.ended();
    }
  }

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

  /** Waits for statements already issued (before the transaction ends). */
  private async settle(): Promise<void> {
    await this.pending;
  }

  private async dropTemporaries(): Promise<void> {
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
}
