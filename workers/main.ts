import { Queue, UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import {
  IMPORT_JOB,
  REFRESH_JOB,
  refreshJobOptions,
  SWEEP_JOB,
  type ImportJobData,
  type MetricsJobData,
  type RefreshJobData,
  type RefreshJobResult,
  type SweepJobData,
  type SweepJobResult,
  type TableCounts,
} from './contract.js';
import { ControlPlane, type TenantDirectory } from './control.js';
import type { WorkerConfig } from './env.js';
import { redisLocks } from './locks.js';
import { createLogger, type Logger } from '../db/log.js';
import { serveWorkerMetrics } from './metrics-http.js';
import { createRefreshProcessor } from './processors/refresh.js';
import { createSweepProcessor } from './processors/sweep.js';
import { runImportJob } from './processors/import.js';
import { startMailWorker } from './mail.js';
import { checkEvictionPolicy, waitForRedis, workerRedis } from './redis.js';
import { upsertSchedulers } from './scheduler.js';
import { isUuid } from '../db/ids.js';

/**
 * The metrics worker process (`npm run worker`): one BullMQ Worker on the metrics queue.
 *
 * Concurrency and locking: `WORKER_CONCURRENCY` jobs at once per process; refreshes of
 * different tenants run in parallel, one tenant's never do. The producer's deduplication
 * (`keepLastIfActive`) keeps at most one active and one waiting job per tenant and mode;
 * a per-tenant Redis lock (`SET NX PX`, renewed while held, in-process set in front) covers
 * the rest — a full rebuild meeting an incremental refresh, a second worker process, a job
 * re-run after its BullMQ lock lapsed. A job that finds its tenant locked is moved back to
 * delayed without spending an attempt. DuckDB's own file lock is the last line on one host.
 */

export type MetricsJobResult = RefreshJobResult | SweepJobResult;

const tenantIdOf = (data: unknown) => {
  const id = (data as Partial<RefreshJobData> | null | undefined)?.tenantId;
  return isUuid(id) ? id : undefined;
};

export interface StartWorkerOptions {
  log?: Logger;
  /** Control-plane lookups (default: the `DATABASE_URL` control plane, cached). */
  directory?: TenantDirectory;
  /** Tests only: called inside each refresh's warehouse transaction after each table. */
  afterTable?: (table: string, counts: TableCounts) => void | Promise<void>;
}

export interface WorkerHandle {
  /** One BullMQ Worker per queue this process works (the metrics queue first). */
  workers: Worker[];
  /** The worker's own producer handle (sweeps add refresh jobs through it). */
  queue: Queue<MetricsJobData>;
  log: Logger;
  /** The port of the metrics listener, when `WORKER_METRICS_PORT` is set. */
  metricsPort?: number;
  /** Stops taking jobs, lets the active ones finish, then closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts the worker: waits for Redis, checks its eviction policy, starts one BullMQ Worker
 * per queue of `queueWork` (today the metrics queue), then upserts the schedulers.
 */
export async function startWorker(
  config: WorkerConfig,
  options: StartWorkerOptions = {},
): Promise<WorkerHandle> {
  const log =
    options.log ?? createLogger(config.LOG_LEVEL, { service: 'metrics-worker', pid: process.pid });
  const redis = workerRedis(config.REDIS_URL, log);
  let directory: TenantDirectory | undefined;
  let scrape: Awaited<ReturnType<typeof serveWorkerMetrics>> | undefined;
  try {
    if (config.WORKER_METRICS_PORT !== undefined) {
      scrape = await serveWorkerMetrics(
        log,
        config.WORKER_METRICS_PORT,
        config.WORKER_METRICS_HOST,
      );
    }
    await waitForRedis(redis, log);
    await checkEvictionPolicy(redis, { production: config.production, log });

    directory = options.directory ?? controlPlane(config, log);
    const queue = new Queue<MetricsJobData>(config.METRICS_QUEUE, {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
    });
    queue.on('error', (err) => log.warn('queue error', { error: err.message }));

    const work = queueWork(config, { directory, queue, redis, log, options });
    const workers = work.map((w) => startQueueWorker(config, redis, log, w));
    // Mail has its own queue, transport and sweep; off while SMTP_URL is unset.
    const mail = await startMailWorker(config, { redis, directory, log });
    if (config.WORKER_SCHEDULER) await keepSchedulers(config, queue, redis, log);
    log.info('worker started', {
      queue: config.METRICS_QUEUE,
      concurrency: config.WORKER_CONCURRENCY,
      warehouse_dir: config.WAREHOUSE_DIR,
      scheduler: config.WORKER_SCHEDULER,
      ...(scrape ? { metrics_port: scrape.port } : {}),
    });

    const dir = directory;
    let closing: Promise<void> | null = null;
    return {
      workers,
      queue,
      log,
      ...(scrape ? { metricsPort: scrape.port } : {}),
      close() {
        closing ??= (async () => {
          await scrape?.close();
          for (const worker of workers) await worker.close();
          await mail?.close();
          await queue.close();
          await dir.close();
          await redis.quit().catch(() => redis.disconnect());
        })();
        return closing;
      },
    };
  } catch (err) {
    await scrape?.close();
    await directory?.close().catch(() => undefined);
    redis.disconnect();
    throw err;
  }
}

/** A queue this process works, and the processor of its jobs. */
interface QueueWork {
  queue: string;
  processor: Processor;
}

/** What the processors are built from. */
interface WorkDeps {
  directory: TenantDirectory;
  /** The metrics queue's producer (sweeps add refresh jobs through it). */
  queue: Queue<MetricsJobData>;
  redis: ReturnType<typeof workerRedis>;
  log: Logger;
  options: StartWorkerOptions;
}

/**
 * The queues this process works. The metrics queue carries refreshes, sweeps and imports; a queue
 * of another kind of job is one more entry here.
 */
function queueWork(config: WorkerConfig, deps: WorkDeps): QueueWork[] {
  return [{ queue: config.METRICS_QUEUE, processor: metricsProcessor(config, deps) }];
}

/** The metrics queue's processor: a refresh, a sweep or a OneRoster import, by the job's name. */
function metricsProcessor(
  config: WorkerConfig,
  deps: WorkDeps,
): Processor<MetricsJobData, MetricsJobResult> {
  const { directory, queue, redis, log, options } = deps;
  const refresh = createRefreshProcessor({
    directory,
    locks: redisLocks(redis, {
      keyPrefix: `${config.QUEUE_PREFIX}:${config.METRICS_QUEUE}`,
      ttlMs: config.TENANT_LOCK_TTL_MS,
      log,
    }),
    warehouseDir: config.WAREHOUSE_DIR,
    log,
    lockRetryMs: config.TENANT_LOCK_RETRY_MS,
    duckdb: {
      ...(config.DUCKDB_MEMORY_LIMIT ? { memoryLimit: config.DUCKDB_MEMORY_LIMIT } : {}),
      ...(config.DUCKDB_THREADS ? { threads: config.DUCKDB_THREADS } : {}),
    },
    ...(options.afterTable ? { afterTable: options.afterTable } : {}),
  });
  const sweep = createSweepProcessor({ directory, queue, log });
  return async function metrics(job, token, signal) {
    switch (job.name) {
      case REFRESH_JOB:
        return refresh(job as unknown as Job<RefreshJobData, RefreshJobResult>, token, signal);
      case SWEEP_JOB:
        return sweep(job as unknown as Job<SweepJobData, SweepJobResult>, token, signal);
      case IMPORT_JOB:
        return (await runImportJob(
          {
            directory,
            log,
            enqueueRefresh: (tenantId) =>
              queue.add(
                REFRESH_JOB,
                { tenantId, mode: 'incremental' },
                refreshJobOptions(tenantId, 0),
              ),
          },
          job.data as unknown as ImportJobData,
        )) as unknown as MetricsJobResult;
      default:
        throw new UnrecoverableError('unknown job name');
    }
  };
}

/** The control plane of `DATABASE_URL`, cached, with a branch pool sized to the concurrency. */
function controlPlane(config: WorkerConfig, log: Logger): TenantDirectory {
  return new ControlPlane(config.db, {
    cacheTtlMs: config.CONTROL_CACHE_TTL_MS,
    branchPoolMax: Math.min(config.WORKER_CONCURRENCY + 1, 10),
    onPoolError: (err) => log.warn('idle database connection failed', { error: err.message }),
  });
}

/** A BullMQ Worker on one queue, its outcomes counted and logged. */
function startQueueWorker(
  config: WorkerConfig,
  redis: ReturnType<typeof workerRedis>,
  log: Logger,
  work: QueueWork,
): Worker {
  const worker = new Worker(work.queue, work.processor, {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
  });
  worker.on('error', (err) => log.warn('worker error', { error: err.message }));
  worker.on('failed', (job, err) => {
    const unrecoverable = err.name === 'UnrecoverableError';
    log.count(unrecoverable ? 'job_refused' : 'job_failed');
    log[unrecoverable ? 'warn' : 'error']('job.failed', {
      job_id: job?.id,
      job: job?.name,
      // Only a well-formed id: a malformed payload is never echoed into the logs.
      tenant_id: tenantIdOf(job?.data),
      attempts_made: job?.attemptsMade,
      unrecoverable,
      error: err.message,
    });
  });
  worker.on('completed', (job) => {
    log.count('job_completed');
    log.debug('job.completed', { job_id: job.id, job: job.name });
  });
  return worker;
}

/** Upserts the job schedulers, and again whenever Redis comes back (it may come back empty). */
async function keepSchedulers(
  config: WorkerConfig,
  queue: Queue<MetricsJobData>,
  redis: ReturnType<typeof workerRedis>,
  log: Logger,
): Promise<void> {
  const schedule = {
    intervalMs: config.REFRESH_INTERVAL_MS,
    fullRebuildCron: config.FULL_REBUILD_CRON,
  };
  await upsertSchedulers(queue, schedule);
  // A Redis that comes back empty (no persistence, failover) has lost the schedulers.
  redis.on('ready', () => {
    upsertSchedulers(queue, schedule).catch((err: Error) =>
      log.warn('job schedulers not re-upserted', { error: err.message }),
    );
  });
}

/**
 * Runs the worker until SIGTERM or SIGINT: the first signal stops taking jobs and waits for
 * the active refreshes (`worker.close()`), then exits 0; a second one exits at once (the
 * warehouse stays consistent either way: an interrupted refresh never commits).
 */
export async function runWorkerProcess(
  config: WorkerConfig,
  options: StartWorkerOptions = {},
): Promise<void> {
  const log =
    options.log ?? createLogger(config.LOG_LEVEL, { service: 'metrics-worker', pid: process.pid });
  let handle: WorkerHandle | null = null;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('second signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('shutting down: finishing active jobs', { signal });
    if (!handle) process.exit(0);
    handle.close().then(
      () => {
        log.info('worker stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error('shutdown failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  handle = await startWorker(config, { ...options, log });
}
