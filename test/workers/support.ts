import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { parseWorkerConfig, type WorkerConfig } from '../../workers/env.js';
import { createLogger, type Logger } from '../../db/log.js';
import type { MetricsJobData } from '../../workers/contract.js';
import type { TestEnvironment } from '../support/environment.js';
import { freePort } from '../support/net.js';

/** The machine's shared Redis (other test files use it too: never stop or reconfigure it). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue of this test's own: unique name and unique key prefix. */
export interface TestQueue {
  name: string;
  prefix: string;
  redisUrl: string;
  /** A producer/inspector handle on it (closed by `cleanup`). */
  queue: Queue<MetricsJobData>;
  /** Obliterates the queue and removes every key under the prefix. */
  cleanup(): Promise<void>;
}

export function testQueue(
  redisUrl = REDIS_URL,
  prefix = `hrt-${randomUUID().slice(0, 8)}`,
): TestQueue {
  const name = `test-${randomUUID()}`;
  const queue = new Queue<MetricsJobData>(name, { connection: { url: redisUrl }, prefix });
  queue.on('error', () => undefined);
  return {
    name,
    prefix,
    redisUrl,
    queue,
    async cleanup() {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close().catch(() => undefined);
      const r = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
      r.on('error', () => undefined);
      try {
        await r.connect();
        for (const key of await scanKeys(r, `${prefix}:${name}:*`)) await r.del(key);
      } catch {
        // A private Redis already stopped holds nothing to clean.
      } finally {
        r.disconnect();
      }
    },
  };
}

export async function scanKeys(r: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Worker settings for a test: its environment's control plane, its queue, its warehouse. */
export function workerConfig(
  t: TestEnvironment,
  q: Pick<TestQueue, 'name' | 'prefix' | 'redisUrl'>,
  warehouseDir: string,
  overrides: Record<string, string> = {},
): WorkerConfig {
  return parseWorkerConfig(workerEnv(t, q, warehouseDir, overrides));
}

export function workerEnv(
  t: TestEnvironment,
  q: Pick<TestQueue, 'name' | 'prefix' | 'redisUrl'>,
  warehouseDir: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: t.env.DATABASE_URL,
    REDIS_URL: q.redisUrl,
    METRICS_QUEUE: q.name,
    QUEUE_PREFIX: q.prefix,
    WAREHOUSE_DIR: warehouseDir,
    WORKER_SCHEDULER: 'false',
    TENANT_LOCK_RETRY_MS: '200',
    DUCKDB_THREADS: '1',
    DUCKDB_MEMORY_LIMIT: '256MB',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}

/** A logger that keeps its lines (parsed) for assertions. */
export function recordingLogger(level: 'debug' | 'info' | 'warn' = 'info'): Logger & {
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(level, {}, (line) =>
    lines.push(JSON.parse(line) as Record<string, unknown>),
  );
  return Object.assign(log, { lines });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A private redis-server on a free port, as a child process: tests may stop, restart and
 * reconfigure it. Never the machine's shared Redis on 6379.
 */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {}

  static async create(extraArgs: string[] = []): Promise<PrivateRedis> {
    return new PrivateRedis(await freePort(), extraArgs);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    await waitFor(
      `redis-server on ${this.port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        const r = new Redis(this.url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        r.on('error', () => undefined);
        try {
          await r.connect();
          return (await r.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          r.disconnect();
        }
      },
      10_000,
      50,
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** Published snapshots of a tenant, keyed `metric|scope|scope_id|period`. */
export async function publishedSnapshots(
  admin: pg.Client,
  tenantId: string,
): Promise<Map<string, { payload: unknown; runId: string; asOf: Date }>> {
  const r = await admin.query<{ k: string; payload: unknown; refresh_run_id: string; as_of: Date }>(
    `select metric || '|' || scope_kind || '|' || coalesce(scope_id::text, '') || '|' || period as k,
            payload, refresh_run_id, as_of
       from metric_snapshots where tenant_id = $1 and deleted_at is null order by 1`,
    [tenantId],
  );
  return new Map(
    r.rows.map((row) => [
      row.k,
      { payload: row.payload, runId: row.refresh_run_id, asOf: row.as_of },
    ]),
  );
}

/** `node --import tsx <file>` as a child, its stdout lines collected. */
export function spawnTsx(
  file: string,
  args: string[],
  env: Record<string, string>,
): ChildProcess & {
  output: string[];
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: join(import.meta.dirname, '..', '..'),
  });
  const output: string[] = [];
  const onData = (b: Buffer) => output.push(...b.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return Object.assign(child, {
    output,
    exited,
    waitForLine(re: RegExp, timeoutMs = 30_000) {
      return waitFor(
        `a line matching ${re}`,
        async () => {
          const line = output.find((l) => re.test(l));
          if (line) return line;
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(
              `child exited (${child.exitCode ?? child.signalCode}):\n${output.join('\n')}`,
            );
          }
          return null;
        },
        timeoutMs,
        50,
      );
    },
  });
}

/**
 * Where two metric payloads differ (a path and both values), or null. Numbers may differ by
 * one unit in the second decimal: DuckDB sums floating-point values in parallel, in no fixed
 * order, so a value like 21.875 can round to 21.87 in one run and 21.88 in another (counts
 * and cents are integers and must match exactly).
 */
export function figuresDiffer(actual: unknown, expected: unknown, path = ''): string | null {
  if (typeof actual === 'number' && typeof expected === 'number') {
    return Math.abs(actual - expected) <= 0.0100001 ? null : `${path}: ${actual} ≠ ${expected}`;
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    if (actual.length !== expected.length)
      return `${path}: length ${actual.length} ≠ ${expected.length}`;
    for (let i = 0; i < actual.length; i++) {
      const d = figuresDiffer(actual[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (actual && expected && typeof actual === 'object' && typeof expected === 'object') {
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
    for (const k of keys) {
      const d = figuresDiffer(a[k], e[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(actual, expected)
    ? null
    : `${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`;
}
