import { cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { ident } from '../sql-text.js';

/**
 * A PostgreSQL "cluster" of embedded PGlite databases behind one loopback TCP port, so the
 * rest of the system (pg pools, COPY extraction, migrations) talks to it like to a server.
 *
 * - Each database is its own PGlite instance and data directory (`<dataDir>/<database>`),
 *   chosen by the startup message's `database`; `postgres` is created on first use, any
 *   other database by `createDatabase` (a copy of a template's directory, like
 *   `CREATE DATABASE … TEMPLATE`).
 * - PGlite has one session. Every client connection gets it exclusively from its first
 *   message until PostgreSQL reports the session idle again (ReadyForQuery `I`): a
 *   transaction, an extended-protocol sequence or a COPY is never interleaved with another
 *   connection's messages; other connections wait their turn.
 * - The startup user is honoured: when the session passes to another connection it is
 *   reset (`DISCARD ALL`) and switched with `SET SESSION AUTHORIZATION <user>`, so the app
 *   role's row-level security applies as on a server. No authentication: loopback only.
 */

export interface EmbeddedClusterOptions {
  dataDir: string;
  /** Default 0: any free port. */
  port?: number;
  host?: string;
}

export interface EmbeddedCluster {
  readonly host: string;
  readonly port: number;
  /** Connection URI for `database` as `user` (default `postgres`, the superuser). */
  url(database: string, user?: string): string;
  hasDatabase(name: string): Promise<boolean>;
  /** Copies `template`'s directory to a new database; refuses while the template is in use. */
  createDatabase(name: string, template?: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  /** Shuts a database's instance down (freeing its memory) if no client is connected. */
  closeIdle(name: string): Promise<boolean>;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const COPY_FROM_STDIN = /^\s*copy\s[\s\S]*\sfrom\s+stdin\b/i;

/** The SQL of a simple-protocol Query message. */
function queryText(message: Uint8Array): string {
  return Buffer.from(message.subarray(5, message.length - 1)).toString('utf8');
}

/** A database: one PGlite instance, handed to one connection at a time. */
class Database {
  private pg: Promise<PGlite> | null = null;
  private holder: Conn | null = null;
  /** The connection whose user and session state the PGlite session carries now. */
  private sessionOf: Conn | null = null;
  private readonly waiting: (() => void)[] = [];
  readonly conns = new Set<Conn>();
  private startupReply: Uint8Array | null = null;

  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  instance(): Promise<PGlite> {
    this.pg ??= import('@electric-sql/pglite').then(({ PGlite }) => PGlite.create(this.dir));
    this.pg.catch(() => (this.pg = null));
    return this.pg;
  }

  /** Waits until `conn` holds the session, switching the session's identity to it. */
  async acquire(conn: Conn): Promise<PGlite> {
    while (this.holder && this.holder !== conn) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (conn.ended) {
      // It went away while waiting: pass the turn on.
      if (!this.holder) this.waiting.shift()?.();
      throw new Error('connection closed');
    }
    this.holder = conn;
    const pg = await this.instance();
    if (this.sessionOf !== conn) {
      // Separate statements: DISCARD ALL refuses to run in a (multi-statement) transaction.
      // It does not restore PGlite's own user (SESSION AUTHORIZATION DEFAULT keeps the last
      // one), so the user is always set explicitly.
      await pg.exec('discard all');
      await pg.exec(`set session authorization ${ident(conn.user)}`);
      this.sessionOf = conn;
    }
    return pg;
  }

  release(conn: Conn): void {
    if (this.holder !== conn) return;
    this.holder = null;
    this.waiting.shift()?.();
  }

  /** The reply to a startup message: PGlite answers the first, later ones get a copy. */
  async startup(conn: Conn, message: Uint8Array): Promise<Uint8Array> {
    if (this.startupReply) return this.startupReply;
    const pg = await this.acquire(conn);
    try {
      // A copy: PGlite's result may be a view of a buffer it reuses.
      const reply = Uint8Array.from(await pg.runExclusive(() => pg.execProtocolRaw(message)));
      if (reply[0] !== 0x45 /* E: an error is not kept */) this.startupReply = reply;
      return reply;
    } finally {
      this.release(conn);
    }
  }

  /** Ends a connection: rolls back what it left open and frees the session. */
  async detach(conn: Conn): Promise<void> {
    this.conns.delete(conn);
    if (this.holder === conn) {
      const pg = await this.instance();
      if (pg.isInTransaction()) await pg.exec('rollback').catch(() => undefined);
      this.release(conn);
    }
    if (this.sessionOf === conn) this.sessionOf = null;
  }

  get busy(): boolean {
    return this.conns.size > 0;
  }

  async close(): Promise<void> {
    const pg = this.pg;
    this.pg = null;
    this.startupReply = null;
    this.sessionOf = null;
    if (pg) await (await pg).close();
  }
}

/** Tracks ReadyForQuery in a backend byte stream that arrives in arbitrary chunks. */
class ReadyScanner {
  private header = Buffer.alloc(0);
  private skip = 0;
  private wantStatus = false;
  status: string | null = null;

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        if (this.wantStatus) {
          this.status = String.fromCharCode(chunk[i]!);
          this.wantStatus = false;
        }
        this.skip -= n;
        i += n;
        continue;
      }
      const need = 5 - this.header.length;
      const take = chunk.subarray(i, i + need);
      this.header = Buffer.concat([this.header, take]);
      i += take.length;
      if (this.header.length === 5) {
        const type = String.fromCharCode(this.header[0]!);
        this.skip = this.header.readInt32BE(1) - 4;
        this.wantStatus = type === 'Z' && this.skip > 0;
        this.header = Buffer.alloc(0);
      }
    }
  }
}

/** One client connection. */
class Conn {
  user = 'postgres';
  db: Database | null = null;
  private buffer = Buffer.alloc(0);
  private started = false;
  private chain: Promise<void> = Promise.resolve();
  /** Messages of a COPY … FROM STDIN, from its query to CopyDone/CopyFail. */
  private copyIn: Uint8Array[] | null = null;
  private closed = false;

  constructor(
    readonly socket: Socket,
    private readonly lookup: (name: string) => Promise<Database | null>,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (data) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      this.chain = this.chain.then(() => this.pump()).catch((err: unknown) => this.fail(err));
    });
    const end = () => void this.end();
    socket.on('close', end);
    socket.on('error', end);
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const len = this.buffer.readInt32BE(0);
        if (this.buffer.length < len) return;
        const message = this.buffer.subarray(0, len);
        this.buffer = this.buffer.subarray(len);
        const code = message.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSS_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) return this.end();
        if (code !== PROTOCOL_3) return this.fatal('08P01', 'unsupported protocol version');
        const params = startupParams(message);
        this.user = params.user ?? 'postgres';
        const name = params.database ?? this.user;
        const db = await this.lookup(name);
        if (!db) return this.fatal('3D000', `database "${name}" does not exist`);
        this.db = db;
        db.conns.add(this);
        this.started = true;
        // Inside its instance every database is PGlite's own `postgres`, entered as its superuser.
        const reply = await db.startup(
          this,
          startupMessage({ ...params, user: 'postgres', database: 'postgres' }),
        );
        this.socket.write(reply);
        continue;
      }
      if (this.buffer.length < 5) return;
      const len = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < len) return;
      const message = new Uint8Array(this.buffer.subarray(0, len));
      this.buffer = this.buffer.subarray(len);
      const db = this.db!;
      if (message[0] === 0x58 /* X: Terminate */) return this.end();
      if (this.copyIn) {
        this.copyIn.push(message);
        // CopyDone or CopyFail ends the data: PGlite takes the whole COPY in one call.
        if (message[0] === 0x63 || message[0] === 0x66) await this.flushCopyIn(db);
        continue;
      }
      if (message[0] === 0x51 /* Q */ && COPY_FROM_STDIN.test(queryText(message))) {
        // PGlite cannot wait for COPY data between calls: answer CopyInResponse (text,
        // no column formats — clients only wait for it) and collect the data first.
        this.copyIn = [message];
        this.socket.write(Buffer.from([0x47, 0, 0, 0, 7, 0, 0, 0]));
        continue;
      }
      const pg = await db.acquire(this);
      const scan = new ReadyScanner();
      await pg.runExclusive(() =>
        pg.execProtocolRawStream(message, {
          onRawData: (chunk) => {
            scan.feed(chunk);
            if (!this.closed) this.socket.write(Buffer.from(chunk));
          },
        }),
      );
      if (scan.status === 'I') db.release(this);
    }
  }

  private async flushCopyIn(db: Database): Promise<void> {
    const batch = Buffer.concat(this.copyIn!);
    this.copyIn = null;
    const pg = await db.acquire(this);
    let reply = Buffer.from(await pg.runExclusive(() => pg.execProtocolRaw(new Uint8Array(batch))));
    // The client already has its CopyInResponse.
    if (reply[0] === 0x47) reply = reply.subarray(1 + reply.readInt32BE(1));
    const scan = new ReadyScanner();
    scan.feed(reply);
    if (!this.closed) this.socket.write(reply);
    if (scan.status === 'I') db.release(this);
  }

  private fatal(code: string, message: string): void {
    const fields = Buffer.concat([
      field('S', 'FATAL'),
      field('V', 'FATAL'),
      field('C', code),
      field('M', message),
      Buffer.from([0]),
    ]);
    const head = Buffer.alloc(5);
    head.write('E', 0);
    head.writeInt32BE(fields.length + 4, 1);
    this.socket.end(Buffer.concat([head, fields]));
    void this.end();
  }

  private fail(err: unknown): void {
    this.fatal('XX000', (err as Error).message ?? String(err));
  }

  get ended(): boolean {
    return this.closed;
  }

  async end(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    // Called without a wait when a client socket drops: a failure here must not become an
    // unhandled rejection, which would end the demo's process for every other client.
    await this.db?.detach(this).catch(() => undefined);
  }
}

function field(code: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(code), Buffer.from(value), Buffer.from([0])]);
}

function startupParams(message: Buffer): Record<string, string> {
  const parts = message.subarray(8).toString('utf8').split('\0');
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i]; i += 2) params[parts[i]!] = parts[i + 1]!;
  return params;
}

function startupMessage(params: Record<string, string>): Uint8Array {
  const body = Buffer.from(
    Object.entries(params)
      .map(([k, v]) => `${k}\0${v}\0`)
      .join('') + '\0',
  );
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(PROTOCOL_3, 4);
  return new Uint8Array(Buffer.concat([head, body]));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Starts the cluster's listener; databases open on first connection. */
export async function startEmbeddedCluster(
  options: EmbeddedClusterOptions,
): Promise<EmbeddedCluster> {
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.dataDir, { recursive: true });
  const databases = new Map<string, Database>();
  const conns = new Set<Conn>();
  const dirOf = (name: string) => join(options.dataDir, name);
  const database = (name: string) => {
    let db = databases.get(name);
    if (!db) {
      db = new Database(name, dirOf(name));
      databases.set(name, db);
    }
    return db;
  };
  const lookup = async (name: string) => {
    if (!NAME.test(name)) return null;
    if (name !== 'postgres' && !(await exists(dirOf(name)))) return null;
    return database(name);
  };

  const server: Server = createServer((socket) => {
    const conn = new Conn(socket, lookup);
    conns.add(conn);
    socket.on('close', () => conns.delete(conn));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  const cluster: EmbeddedCluster = {
    host,
    port,
    url(name, user = 'postgres') {
      return `postgres://${encodeURIComponent(user)}@${host}:${port}/${encodeURIComponent(name)}`;
    },
    async hasDatabase(name) {
      return NAME.test(name) && (name === 'postgres' || (await exists(dirOf(name))));
    },
    async createDatabase(name, template) {
      if (!NAME.test(name)) throw new Error(`invalid database name: ${name}`);
      if (await exists(dirOf(name))) throw new Error(`database ${name} already exists`);
      if (!template) {
        await database(name).instance();
        return;
      }
      const source = databases.get(template);
      if (source?.busy) {
        throw Object.assign(new Error(`source database "${template}" is being accessed`), {
          code: '55006',
        });
      }
      // A closed instance's directory is a consistent copy source.
      await source?.close();
      if (!(await exists(dirOf(template)))) throw new Error(`no template database ${template}`);
      await cp(dirOf(template), dirOf(name), { recursive: true });
    },
    async dropDatabase(name) {
      const db = databases.get(name);
      if (db) {
        for (const c of [...db.conns]) await c.end();
        await db.close();
        databases.delete(name);
      }
      await rm(dirOf(name), { recursive: true, force: true });
    },
    async closeIdle(name) {
      const db = databases.get(name);
      // A client that just ended may still be detaching: give it a moment.
      for (let i = 0; db?.busy && i < 20; i++) await new Promise((r) => setTimeout(r, 25));
      if (!db || db.busy) return false;
      await db.close();
      return true;
    },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of [...conns]) await c.end();
      await stopped;
      for (const db of databases.values()) await db.close().catch(() => undefined);
      databases.clear();
    },
  };
  return cluster;
}

/** Names of the databases a cluster directory holds. */
export async function listDatabases(dataDir: string): Promise<string[]> {
  const entries = await readdir(dataDir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && NAME.test(e.name)).map((e) => e.name);
}
