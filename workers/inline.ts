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
  const deps: RefreshDeps = {
    directory: options.directory,
    locks: localLocks(),
    warehouseDir: options.warehouseDir,
    log: options.log,
    ...(options.duckdb ? { duckdb: options.duckdb } : {}),
    ...(options.afterTable ? { afterTable: options.afterTable } : {}),
  };
  const debounceMs = options.debounceMs ?? 1_000;
  const tenants = new Map<string, TenantState>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const inflight = new Set<Promise<unknown>>();
  let closed = false;
  let runs = 0;
  let close!: () => void;
  // Resolves on close(): a retry waiting out its backoff gives up at once.
  const closing = new Promise<void>((resolve) => (close = resolve));

  const stateOf = (tenantId: string) => {
    let s = tenants.get(tenantId);
    if (!s) {
      s = { tail: Promise.resolve(), queued: null };
      tenants.set(tenantId, s);
    }
    return s;
  };

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    const done = () => inflight.delete(p);
    p.then(done, done);
    return p;
  };

  /** One request with retries; never rejects (failures are logged). */
  async function attempt(tenantId: string, mode: RefreshMode): Promise<void> {
    const jobId = `inline-${++runs}`;
    for (let n = 1; ; n++) {
      try {
        const result = await runRefresh(deps, { tenantId, mode }, { jobId, attempt: n });
        options.onRefreshed?.(result);
        return;
      } catch (err) {
        const unrecoverable = err instanceof UnrecoverableError;
        if (unrecoverable || n >= REFRESH_RETRY.attempts || closed) {
          options.log.count(unrecoverable ? 'job_refused' : 'job_failed');
          options.log[unrecoverable ? 'warn' : 'error']('job.failed', {
            job_id: jobId,
            tenant_id: isUuid(tenantId) ? tenantId : undefined,
            attempts_made: n,
            unrecoverable,
            error: (err as Error).message,
          });
          return;
        }
        // BullMQ's exponential backoff with jitter: delay × 2^(n−1), shortened by up to `jitter`.
        const { delay, jitter } = REFRESH_RETRY.backoff;
        const base = delay * 2 ** (n - 1);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.round(base * (1 - jitter * Math.random())));
          void closing.then(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }

  function enqueue(tenantId: string, mode: RefreshMode): void {
    const s = stateOf(tenantId);
    if (s.queued) {
      if (mode === 'full') s.queued = 'full';
      return;
    }
    s.queued = mode;
    const timer = setTimeout(() => {
      timers.delete(timer);
      s.tail = track(
        s.tail.then(() => {
          const m = s.queued ?? mode;
          s.queued = null;
          return closed ? undefined : attempt(tenantId, m);
        }),
      );
    }, debounceMs);
    timers.add(timer);
  }

  let sweepTimer: ReturnType<typeof setInterval> | undefined;
  const runner: InlineRunner = {
    async enqueueRefresh(tenantId, mode = 'incremental') {
      if (closed) return false;
      enqueue(tenantId.toLowerCase(), mode);
      return true;
    },
    refreshNow(tenantId, mode = 'incremental') {
      const s = stateOf(tenantId.toLowerCase());
      const run = s.tail.then(() =>
        runRefresh(deps, { tenantId, mode }, { jobId: `inline-${++runs}`, attempt: 1 }),
      );
      s.tail = track(run.catch(() => undefined));
      return run;
    },
    async enqueueImport(tenantId, importId) {
      if (closed) return false;
      const job = runImportJob(
        {
          directory: options.directory,
          log: options.log,
          enqueueRefresh: (id) => runner.enqueueRefresh(id),
        },
        { tenantId, importId },
      ).catch((err: Error) =>
        options.log.warn('import failed', { tenant_id: tenantId, error: err.message }),
      );
      track(job);
      return true;
    },
    async sweep(mode = 'incremental') {
      const active = await options.directory.activeTenants();
      for (const t of active) enqueue(t.id, mode);
      return active.length;
    },
    async idle() {
      while (timers.size > 0 || inflight.size > 0) {
        await Promise.race([...inflight, sleep(50)]);
      }
    },
    async close() {
      closed = true;
      close();
      if (sweepTimer) clearInterval(sweepTimer);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inflight]);
    },
  };
  if (options.sweepIntervalMs && options.sweepIntervalMs > 0) {
    sweepTimer = setInterval(() => {
      runner
        .sweep()
        .catch((err: Error) => options.log.warn('sweep failed', { error: err.message }));
    }, options.sweepIntervalMs);
    sweepTimer.unref();
  }
  return runner;
}
