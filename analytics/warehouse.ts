/**
 * A tenant's DuckDB warehouse: one file per tenant (`<dir>/<tenantId>.duckdb`), opened on the
 * process's engine, and its one write transaction. The parts live in `warehouse/`: the
 * engine (`engine.ts`), which files are attached to it (`attach.ts`), the file's schema
 * (`schema.ts`), the run log and watermark (`run-log.ts`), the transaction's writer
 * (`writer.ts`) and running SQL on a connection (`sql.ts`).
 *
 * Atomicity comes from DuckDB itself: a refresh writes every table, the metric snapshots,
 * the watermark and its `refresh_runs` row in ONE transaction. Readers on the instance see
 * the state before or after the commit; a process killed mid-refresh leaves an uncommitted
 * transaction that DuckDB discards when the file is next opened (its WAL has no commit
 * record for it), so the previous state is what remains.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { acquire, release, warehousePath, type AttachOptions } from './warehouse/attach.js';
import { processEngine, type EngineOptions } from './warehouse/engine.js';
import { ensureSchema } from './warehouse/schema.js';
import { rowsSql, runSql, type SqlParams, type SqlRunner } from './warehouse/sql.js';
import { WarehouseWriter } from './warehouse/writer.js';

// The metric modules write their SQL with these.
export { lit, type SqlRunner } from './warehouse/sql.js';

export interface OpenWarehouseOptions extends EngineOptions, AttachOptions {
  tenantId: string;
}

/** Opens (creating or upgrading if needed) a tenant's warehouse. Close it when done. */
export async function openWarehouse(options: OpenWarehouseOptions): Promise<Warehouse> {
  const path = warehousePath(options.dir, options.tenantId);
  await mkdir(resolve(options.dir), { recursive: true });
  const instance = await processEngine(options);
  const tenantId = options.tenantId.toLowerCase();
  const alias = await acquire(instance, path, tenantId, options);
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await conn.run(`USE "${alias}"`);
    const w = new Warehouse(path, tenantId, alias, conn, () => release(instance, path));
    await ensureSchema(w);
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
    private readonly detach: () => Promise<void>,
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
   * Runs `fn` in one DuckDB transaction: everything it writes commits together or not at
   * all. Not reentrant: one writer per warehouse.
   */
  async transaction<T>(fn: (tx: WarehouseWriter) => Promise<T>): Promise<T> {
    const tx = await this.begin();
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      await tx.rollback();
      throw err;
    }
    await tx.commit();
    return result;
  }

  /**
   * Opens the warehouse's one DuckDB transaction; end it with the writer's `commit()` or
   * `rollback()`. Meanwhile the warehouse itself refuses statements.
   */
  async begin(): Promise<WarehouseWriter> {
    if (this.busy) throw new Error('a warehouse transaction is already open');
    if (this.closed) throw new Error('the warehouse is closed');
    await this.pending;
    this.busy = true;
    try {
      await runSql(this.conn, 'BEGIN TRANSACTION');
    } catch (err) {
      this.busy = false;
      throw err;
    }
    return new WarehouseWriter(this.conn, () => (this.busy = false));
  }

  /** Folds the WAL into the file and frees the blocks of replaced tables. */
  async checkpoint(): Promise<void> {
    await this.run(`CHECKPOINT "${this.catalog}"`);
  }

  /**
   * Disconnects. When the last user in this process has closed, the file is detached in the
   * background (`warehouseDetached` waits for it).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pending;
    this.conn.closeSync();
    await this.detach();
  }
}
