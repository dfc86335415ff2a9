import { UnrecoverableError } from 'bullmq';
import { REFRESH_RETRY, type RefreshJobResult, type RefreshMode } from './contract.js';
import type { TenantDirectory } from './control.js';
import { localLocks } from './locks.js';
import type { Logger } from '../db/log.js';
import { runRefresh, type RefreshDeps } from './processors/refresh.js';
import { runImportJob } from './processors/import.js';
import { isUuid } from '../db/ids.js';

/**
 * The queue-less runner for a deployment without Redis (the embedded demo): the same
 * refresh as the BullMQ processor, with the queue's semantics kept in-process —
 * - a refresh request is debounced (`debounceMs`) and coalesces with one already pending;
 * - one refresh per tenant at a time; a request while one runs queues exactly one more
 *   (BullMQ's `keepLastIfActive`), a pending `full` absorbing `incremental` requests;
 * - failures retry with the job options' exponential backoff and jitter; input that can
 *   never succeed (UnrecoverableError) does not.
 *
 * `enqueueRefresh` has the API's `RefreshQueue` shape, so the API can use this runner as its
 * queue when `REDIS_URL` is unset. State is in memory: a restart forgets pending requests
 * (the periodic sweep, when enabled, catches up).
 */

export interface InlineRunnerOptions {
  directory: TenantDirectory;
  warehouseDir: string;
  log: Logger;
  /** Debounce of `enqueueRefresh` (default 1 s; the API's is at most 5 s). */
  debounceMs?: number;
  /** Incremental sweep over every active tenant; 0 or unset: none. */
  sweepIntervalMs?: number;
  duckdb?: RefreshDeps['duckdb'];
  /** Called after every successful refresh (the demo prints them). */
  onRefreshed?: (result: RefreshJobResult) => void;
  afterTable?: RefreshDeps['afterTable'];
}

export interface InlineRunner {
  /** Schedules a refresh (debounced, coalesced); resolves true at once, never throws. */
  enqueueRefresh(tenantId: string, mode?: RefreshMode): Promise<boolean>;
  /** Runs a refresh after any running one of the tenant; no retries; throws its failure. */
  refreshNow(tenantId: string, mode?: RefreshMode): Promise<RefreshJobResult>;
  /** Runs an uploaded import in this process (in the background); resolves true at once. */
  enqueueImport(tenantId: string, importId: string): Promise<boolean>;
  /** Schedules a refresh of every active tenant; resolves with how many. */
  sweep(mode?: RefreshMode): Promise<number>;
  /** Resolves when nothing is scheduled, waiting or running. */
  idle(): Promise<void>;
  /** Stops the sweep and pending timers, then waits for running refreshes. */
  close(): Promise<void>;
}

interface TenantState {
  /** Every run of this tenant is chained here: one at a time. */
  tail: Promise<unknown>;
  /** A requested run that has not started yet (debouncing or waiting behind one). */
  queued: RefreshMode | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createInlineRunner(options: InlineRunnerOptions): InlineRunner {
  const runner = new InlineRefreshRunner(options);
  if (options.sweepIntervalMs && options.sweepIntervalMs > 0)
    runner.sweepEvery(options.sweepIntervalMs);
  return runner;
}

/**
 * BullMQ's exponential backoff with jitter before attempt `n + 1`: delay × 2^(n−1),
 * shortened by up to `jitter`.
 */
function retryDelayMs(n: number): number {
  const { delay, jitter } = REFRESH_RETRY.backoff;
  const base = delay * 2 ** (n - 1);
  return Math.round(base * (1 - jitter * Math.random()));
}

class InlineRefreshRunner implements InlineRunner {
  private readonly deps: RefreshDeps;
  private readonly debounceMs: number;
  private readonly tenants = new Map<string, TenantState>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  private runs = 0;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private markClosed!: () => void;
  /** Resolves on close(): a retry waiting out its backoff gives up at once. */
  private readonly closing = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(private readonly options: InlineRunnerOptions) {
    this.deps = {
      directory: options.directory,
      locks: localLocks(),
      warehouseDir: options.warehouseDir,
      log: options.log,
      ...(options.duckdb ? { duckdb: options.duckdb } : {}),
      ...(options.afterTable ? { afterTable: options.afterTable } : {}),
    };
    this.debounceMs = options.debounceMs ?? 1_000;
  }

  async enqueueRefresh(tenantId: string, mode: RefreshMode = 'incremental'): Promise<boolean> {
    if (this.closed) return false;
    this.enqueue(tenantId.toLowerCase(), mode);
    return true;
  }

  refreshNow(tenantId: string, mode: RefreshMode = 'incremental'): Promise<RefreshJobResult> {
    const s = this.stateOf(tenantId.toLowerCase());
    const run = s.tail.then(() =>
      runRefresh(this.deps, { tenantId, mode }, { jobId: `inline-${++this.runs}`, attempt: 1 }),
    );
    s.tail = this.track(run.catch(() => undefined));
    return run;
  }

  async enqueueImport(tenantId: string, importId: string): Promise<boolean> {
    if (this.closed) return false;
    const { directory, log } = this.options;
    const job = runImportJob(
      { directory, log, enqueueRefresh: (id) => this.enqueueRefresh(id) },
      { tenantId, importId },
    ).catch((err: Error) => log.warn('import failed', { tenant_id: tenantId, error: err.message }));
    this.track(job);
    return true;
  }

  async sweep(mode: RefreshMode = 'incremental'): Promise<number> {
    const active = await this.options.directory.activeTenants();
    for (const t of active) this.enqueue(t.id, mode);
    return active.length;
  }

  async idle(): Promise<void> {
    while (this.timers.size > 0 || this.inflight.size > 0) {
      await Promise.race([...this.inflight, sleep(50)]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.markClosed();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
  }

  /** Starts the periodic incremental sweep. */
  sweepEvery(intervalMs: number): void {
    this.sweepTimer = setInterval(() => {
      this.sweep().catch((err: Error) =>
        this.options.log.warn('sweep failed', { error: err.message }),
      );
    }, intervalMs);
    this.sweepTimer.unref();
  }

  private stateOf(tenantId: string): TenantState {
    let s = this.tenants.get(tenantId);
    if (!s) {
      s = { tail: Promise.resolve(), queued: null };
      this.tenants.set(tenantId, s);
    }
    return s;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Debounces a request, coalescing it with one queued already (`full` wins). */
  private enqueue(tenantId: string, mode: RefreshMode): void {
    const s = this.stateOf(tenantId);
    if (s.queued) {
      if (mode === 'full') s.queued = 'full';
      return;
    }
    s.queued = mode;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      s.tail = this.track(
        s.tail.then(() => {
          const m = s.queued ?? mode;
          s.queued = null;
          return this.closed ? undefined : this.attempt(tenantId, m);
        }),
      );
    }, this.debounceMs);
    this.timers.add(timer);
  }

  /** One request with retries; never rejects (failures are logged). */
  private async attempt(tenantId: string, mode: RefreshMode): Promise<void> {
    const jobId = `inline-${++this.runs}`;
    for (let n = 1; ; n++) {
      try {
        const result = await runRefresh(this.deps, { tenantId, mode }, { jobId, attempt: n });
        this.options.onRefreshed?.(result);
        return;
      } catch (err) {
        const unrecoverable = err instanceof UnrecoverableError;
        if (unrecoverable || n >= REFRESH_RETRY.attempts || this.closed) {
          this.logFailure(jobId, tenantId, n, unrecoverable, err as Error);
          return;
        }
        await this.waitUnlessClosed(retryDelayMs(n));
      }
    }
  }

  private logFailure(
    jobId: string,
    tenantId: string,
    attempts: number,
    unrecoverable: boolean,
    err: Error,
  ): void {
    const { log } = this.options;
    log.count(unrecoverable ? 'job_refused' : 'job_failed');
    log[unrecoverable ? 'warn' : 'error']('job.failed', {
      job_id: jobId,
      tenant_id: isUuid(tenantId) ? tenantId : undefined,
      attempts_made: attempts,
      unrecoverable,
      error: err.message,
    });
  }

  private waitUnlessClosed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      void this.closing.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
