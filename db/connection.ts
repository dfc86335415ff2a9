/**
 * Database handles over the Neon serverless driver, plus the types every driver shares.
 *
 * This module is what the API imports on Cloudflare Workers, so it must stay free of
 * Node-only code: `pg` (TCP) and PGlite (WASM + filesystem) live in `connection-node.ts`,
 * whose `createDb` accepts all three drivers and delegates `neon` here. A split beats
 * dynamic `import()` in one file because wrangler's bundler follows literal dynamic
 * imports and would pull `pg` and PGlite's WASM into the Worker bundle anyway.
 *
 * All drivers return the same `Db` supertype so repositories and the tenancy code are
 * written once; the driver only decides how bytes reach Postgres.
 */
import { Client, Pool, type ClientConfig } from '@neondatabase/serverless';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/neon-serverless';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';

/** A schema object as passed to drizzle (`import * as schema from './schema'`). */
export type DbSchema = Record<string, unknown>;

/** The query surface common to every driver. */
export type Db<TSchema extends DbSchema = Record<string, never>> = PgDatabase<
  PgQueryResultHKT,
  TSchema
>;

/** What `db.transaction(async (tx) => …)` hands to its callback. */
export type Tx<TSchema extends DbSchema = Record<string, never>> = PgTransaction<
  PgQueryResultHKT,
  TSchema,
  ExtractTablesWithRelations<TSchema>
>;

export type DbDriver = 'neon' | 'pg' | 'pglite';

export interface DbHandle<TSchema extends DbSchema = Record<string, never>> {
  db: Db<TSchema>;
  /** Ends the pool (or the embedded database); the handle is unusable afterwards. */
  close(): Promise<void>;
  driver: DbDriver;
}

/** The part of the WebSocket constructor the Neon driver relies on (`ws` and workerd's both fit). */
export type WebSocketConstructor = NonNullable<Client['neonConfig']['webSocketConstructor']>;

export interface NeonDbOptions<TSchema extends DbSchema = Record<string, never>> {
  driver: 'neon';
  url: string;
  /**
   * `host:port` of a WebSocket→TCP proxy (see `db/ws-proxy.ts`) for a plain Postgres.
   * Unset means a real Neon endpoint, reached over `wss:` the driver's default way.
   */
  wsProxy?: string;
  max?: number;
  schema?: TSchema;
  /** Needed where no global WebSocket exists (Node 20); defaults to the `ws` package there. */
  webSocketConstructor?: WebSocketConstructor;
  /** Errors of idle pooled connections; the pool has already discarded the connection. */
  onPoolError?: (error: Error) => void;
}

export interface PgDbOptions<TSchema extends DbSchema = Record<string, never>> {
  driver: 'pg';
  url: string;
  max?: number;
  schema?: TSchema;
  /** Errors of idle pooled connections; the pool has already discarded the connection. */
  onPoolError?: (error: Error) => void;
}

export interface PgliteDbOptions<TSchema extends DbSchema = Record<string, never>> {
  driver: 'pglite';
  /** Directory for the embedded database; undefined keeps it in memory. */
  dataDir?: string;
  schema?: TSchema;
}

export type DbOptions<TSchema extends DbSchema = Record<string, never>> =
  NeonDbOptions<TSchema> | PgDbOptions<TSchema> | PgliteDbOptions<TSchema>;

/**
 * The rows of a `db.execute()` result. Its type is `unknown` on the common `Db` because the
 * drivers return different result objects (pg's QueryResult, PGlite's Results); all of them
 * carry `rows`.
 */
export function rowsOf<TRow extends Record<string, unknown>>(result: unknown): TRow[] {
  const rows = (result as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows)) throw new Error('query result has no rows array');
  return rows as TRow[];
}

/**
 * SQLSTATEs of a lost or refused server connection: admin/crash shutdown, cannot connect
 * now (starting up, shutting down), and class 08 (connection exception).
 */
const CONNECTION_LOST_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
const SOCKET_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
/** What `pg`/`pg-pool` (and the Neon driver, their fork) throw when a socket is gone. */
const CONNECTION_LOST_MESSAGES =
  /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Client was closed and is not queryable/i;

/**
 * Whether an error (or any error in its `cause` chain: drizzle wraps driver errors) means
 * the database connection was lost or could not be made. Such a request may succeed when
 * retried, so the API answers 503 and a worker fails the job retryably.
 */
export function isConnectionLoss(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (
      typeof code === 'string' &&
      (CONNECTION_LOST_CODES.has(code) || SOCKET_ERROR_CODES.has(code))
    )
      return true;
    if (typeof message === 'string' && CONNECTION_LOST_MESSAGES.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Opens a Neon-driver pool (Workers-safe); for `pg` and `pglite` use `connection-node.ts`. */
export async function createDb<TSchema extends DbSchema = Record<string, never>>(
  options: NeonDbOptions<TSchema>,
): Promise<DbHandle<TSchema>> {
  const webSocketConstructor = options.webSocketConstructor ?? (await defaultWebSocket());
  const settings = { webSocketConstructor, wsProxy: options.wsProxy };

  const pool = new Pool({ connectionString: options.url, max: options.max });
  // The driver has no per-pool settings, only the global `neonConfig` and each client's
  // own `neonConfig`. Configuring every client the pool creates keeps a local-proxy pool
  // and a real-Neon pool in one process from overwriting each other's global settings.
  pool.Client = configuredClient(settings);
  pool.on('error', options.onPoolError ?? ignorePoolError);
  pool.on('connect', keepClientErrorsFromCrashing);

  const db: Db<TSchema> = drizzle({ client: pool, schema: options.schema });
  return { db, close: () => pool.end(), driver: 'neon' };
}

interface ClientSettings {
  webSocketConstructor: WebSocketConstructor | undefined;
  wsProxy: string | undefined;
}

function configuredClient(settings: ClientSettings): typeof Client {
  return class ConfiguredNeonClient extends Client {
    constructor(config?: string | ClientConfig) {
      super(config);
      const socket = this.neonConfig;
      if (settings.webSocketConstructor)
        socket.webSocketConstructor = settings.webSocketConstructor;
      const proxy = settings.wsProxy;
      if (proxy !== undefined) {
        socket.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
        // A local proxy speaks plain ws:, and local Postgres neither expects TLS inside
        // the tunnel nor (with trust or SCRAM auth) a pipelined cleartext password: the
        // pipelined password would arrive after AuthenticationOk and break the session.
        socket.useSecureWebSocket = false;
        socket.pipelineTLS = false;
        socket.pipelineConnect = false;
      }
    }
  };
}

/** The global WebSocket where the runtime has one (workerd, Node ≥ 22), else `ws`. */
async function defaultWebSocket(): Promise<WebSocketConstructor | undefined> {
  if (typeof globalThis.WebSocket === 'function') return undefined;
  const { default: ws } = await import('ws');
  return ws;
}

/**
 * pg-pool emits `error` for connections that fail while idle and has already dropped them;
 * without a listener the process would crash, while the next checkout just reconnects.
 */
function ignorePoolError(): void {}

/**
 * pg-pool listens for a client's `error` only while the client is idle. A connection that
 * dies while checked out (a server restart, `pg_terminate_backend`) makes the client emit
 * `error` with nobody listening, which would end the process. The failing query rejects on
 * its own, and the client, no longer queryable, is discarded when released; this listener
 * only keeps the event from being fatal.
 */
export function keepClientErrorsFromCrashing(client: {
  on(event: 'error', listener: (err: Error) => void): unknown;
}): void {
  client.on('error', () => {});
}
