/**
 * Which tenants' files are attached to the process's engine (`engine.ts`): one attachment per
 * file however many users have it open; the last to close detaches it, which checkpoints the
 * file and releases its lock for other processes.
 *
 * DuckDB allows one writing process per file. The caller guarantees one refresh per tenant
 * at a time; attaching still waits out a lock held by a process that is shutting down. An
 * unreadable file is set aside and a fresh one started: the warehouse is derived data.
 */
import { isUuid } from '../../db/ids.js';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import { engineRun } from './engine.js';
import { lit } from './sql.js';

export interface AttachOptions {
  /** How long to wait for another process to release the file (default 30 s). */
  lockTimeoutMs?: number;
  /** Told when an unreadable file was set aside and a fresh warehouse started. */
  onRebuild?: (reason: string) => void;
}

/** Path of a tenant's warehouse file. */
export function warehousePath(dir: string, tenantId: string): string {
  if (!isUuid(tenantId)) throw new Error('tenant id must be a UUID');
  return join(resolve(dir), `${tenantId.toLowerCase()}.duckdb`);
}

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
  options: AttachOptions,
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
  options: AttachOptions,
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

/** Attaches a tenant's file (or shares its attachment); its catalog alias. */
export async function acquire(
  instance: DuckDBInstance,
  path: string,
  tenantId: string,
  options: AttachOptions,
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

/** Gives up one use of a file; the last one detaches it, in the background. */
export async function release(instance: DuckDBInstance, path: string): Promise<void> {
  const shared = attachments.get(path);
  if (!shared) return;
  const s = await shared;
  if (--s.refs > 0) return;
  attachments.delete(path);
  // Detaching checkpoints the file (folds its WAL in) and releases its lock for other
  // processes. It runs in the background: what the last transaction committed is durable in
  // the WAL already, and attaching the file again (here, or in another process through the
  // file lock) waits for it.
  const detached = engineRun(instance, `DETACH "${s.alias}"`).finally(() => {
    if (detaching.get(path) === detached) detaching.delete(path);
  });
  detached.catch(() => undefined);
  detaching.set(path, detached);
}

/** Waits until a tenant's warehouse file, if being detached, is detached. */
export async function warehouseDetached(dir: string, tenantId: string): Promise<void> {
  await detaching.get(warehousePath(dir, tenantId.toLowerCase()))?.catch(() => undefined);
}
