import { z } from 'zod';
import { flagSetting, logLevelSetting, parseProcessEnv, type DbEnv } from '../db/env.js';
import { DEFAULT_QUEUE_PREFIX, METRICS_QUEUE } from './contract.js';
import { MAIL_QUEUE } from './mail-contract.js';

/**
 * The workers' settings, parsed once at the entry point (scripts/worker.ts,
 * scripts/refresh.ts) from `process.env`. Anything invalid stops start-up: fail closed.
 */

const ms = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);

const schema = z.object({
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  /** Queue name and key prefix: the API's producer must use the same. */
  METRICS_QUEUE: z.string().min(1).default(METRICS_QUEUE),
  QUEUE_PREFIX: z.string().min(1).default(DEFAULT_QUEUE_PREFIX),
  /** Jobs one process runs at once (refreshes of different tenants). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Directory of the per-tenant DuckDB files. */
  WAREHOUSE_DIR: z.string().min(1).default('.data/warehouse'),
  /** Period of the incremental sweep over every active tenant. */
  REFRESH_INTERVAL_MS: ms(1_000, 15 * 60_000),
  /** Nightly full rebuild (cron, evaluated in UTC). */
  FULL_REBUILD_CRON: z.string().min(9).default('0 3 * * *'),
  /** Upsert the job schedulers at start (every worker process may; the upserts are idempotent). */
  WORKER_SCHEDULER: flagSetting.default(true),
  /** Per-tenant Redis lock: expiry (renewed while the refresh runs) and the retry delay when taken. */
  TENANT_LOCK_TTL_MS: ms(1_000, 60_000),
  TENANT_LOCK_RETRY_MS: ms(50, 2_000),
  /** BullMQ job lock and stalled-job check: how fast a killed worker's job is taken over. */
  WORKER_LOCK_DURATION_MS: ms(1_000, 30_000),
  WORKER_STALLED_INTERVAL_MS: ms(500, 30_000),
  /** How long a control-plane tenant lookup is reused. */
  CONTROL_CACHE_TTL_MS: ms(0, 30_000),
  /**
   * DuckDB `memory_limit` per refresh. 256MB keeps a full refresh of the `large` preset at
   * ~835 MiB peak RSS in ~49 s on 2 cores; analytics' own default (640MB) peaked at 1.2 GiB.
   */
  DUCKDB_MEMORY_LIMIT: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i)
    .default('256MB'),
  /** DuckDB threads per refresh (default: all cores; 1 is slower and no leaner). */
  DUCKDB_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  LOG_LEVEL: logLevelSetting,
  /**
   * Where mail leaves: `smtp://user:pass@host:587` (STARTTLS when offered) or
   * `smtps://…:465`. Unset, the mail worker does not start and mail waits in the outbox.
   */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//)
    .optional(),
  /** The envelope and From address of every tenant's mail; the display name is the tenant's. */
  MAIL_FROM: z.email().default('no-reply@localhost'),
  /** The mail queue: the API's producer must use the same name (its MAIL_QUEUE). */
  MAIL_QUEUE: z.string().min(1).default(MAIL_QUEUE),
  /** Deliveries one process runs at once. */
  MAIL_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** Period of the sweep that re-enqueues every undelivered outbox row. */
  MAIL_SWEEP_INTERVAL_MS: ms(1_000, 60_000),
  /** Port of the Prometheus scrape listener (`GET /metrics`); unset, there is none. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** Address it listens on: loopback unless the scraper is elsewhere. */
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
});

export type WorkerConfig = z.infer<typeof schema> & { db: DbEnv; production: boolean };

/**
 * Parses the workers' configuration from a flat string map. Throws on anything invalid.
 * `requireRedis: false` for in-process runs (`npm run refresh`), which never connect to it.
 */
export function parseWorkerConfig(
  source: Record<string, string | undefined>,
  options: { requireRedis?: boolean } = {},
): WorkerConfig {
  const { settings, db, production, given } = parseProcessEnv(source, schema);
  // REDIS_URL has a local default: what matters in production is whether it was set.
  if (production && options.requireRedis !== false && !given.REDIS_URL) {
    throw new Error('invalid environment: REDIS_URL: required in production');
  }
  return { ...settings, db, production };
}
