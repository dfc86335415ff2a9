/**
 * The process's one DuckDB engine, to which each tenant's file is attached while in use
 * (`attach.ts`), and its settings.
 */
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { lit } from './sql.js';

export interface EngineOptions {
  /** Directory holding every tenant's file (the engine spills to `<dir>/.spill`). */
  dir: string;
  /** DuckDB `memory_limit` (default 640MB: the worker's RSS budget is 1 GiB). */
  memoryLimit?: string;
  /** DuckDB `threads` (default: DuckDB's own, the number of cores). */
  threads?: number;
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

function createEngine(options: EngineOptions): Promise<DuckDBInstance> {
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
export async function engineRun(instance: DuckDBInstance, sql: string): Promise<void> {
  const conn = await instance.connect();
  try {
    await conn.run(sql);
  } finally {
    conn.closeSync();
  }
}

/** The process's engine, with the memory limit and threads `options` name (if any). */
export async function processEngine(options: EngineOptions): Promise<DuckDBInstance> {
  const instance = await createEngine(options);
  if (options.memoryLimit)
    await engineRun(instance, `SET memory_limit = ${lit(options.memoryLimit)}`);
  if (options.threads) await engineRun(instance, `SET threads = ${Math.floor(options.threads)}`);
  return instance;
}
