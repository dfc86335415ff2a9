/**
 * Structured JSON lines on stdout/stderr — what workerd's and Node's log collectors read —
 * and the process's counters of notable events, for the API and the workers alike. Fields
 * are ids, counts and timings: never personal data. It lives in `db/`, the lowest floor
 * both `api/` and `workers/` reach (and `analytics/` too), and imports nothing.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Counters of notable events (enqueue failures, refused jobs), for tests and /metrics. */
  readonly counters: Map<string, number>;
  count(name: string): void;
}

/** Where a line goes: warn and error to stderr, the rest to stdout. */
export type LogSink = (line: string, level: Level) => void;

const consoleSink: LogSink = (line, lvl) =>
  lvl === 'warn' || lvl === 'error' ? console.error(line) : console.log(line);

/** A logger writing JSON lines at or above `level`. */
export function createLogger(
  level: Level = 'info',
  base: Record<string, unknown> = {},
  sink: LogSink = consoleSink,
): Logger {
  const counters = new Map<string, number>();
  const write = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    sink(
      JSON.stringify({ level: lvl, msg, time: new Date().toISOString(), ...base, ...fields }),
      lvl,
    );
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    counters,
    count: (name) => counters.set(name, (counters.get(name) ?? 0) + 1),
  };
}

/** A counter as Prometheus shows it: its metric name and HELP text. */
export interface CounterInfo {
  metric: string;
  help: string;
}

/** The API's counters (`log.count(name)` → metric), listed even while still at zero. */
export const API_COUNTERS: Record<string, CounterInfo> = {
  enqueue_failed: {
    metric: 'homeroom_enqueue_failures_total',
    help: 'Metric refreshes not enqueued after a committed write (Redis refused or timed out); the sweep catches up.',
  },
  rate_limited: {
    metric: 'homeroom_rate_limit_hits_total',
    help: 'Requests refused with 429 by a public or login rate limit.',
  },
  rate_limit_fallback: {
    metric: 'homeroom_rate_limit_fallbacks_total',
    help: 'Rate-limit checks counted in memory because Redis was unreachable.',
  },
  db_connection_lost: {
    metric: 'homeroom_db_connection_losses_total',
    help: 'Requests answered 503 because their database connection was lost.',
  },
  usage_flush_failed: {
    metric: 'homeroom_usage_flush_failures_total',
    help: 'Failed writes of the accumulated api_usage counters (kept for the next try).',
  },
  usage_dropped: {
    metric: 'homeroom_usage_dropped_total',
    help: 'api_usage counts dropped because too many were waiting to be written.',
  },
  honeypot: {
    metric: 'homeroom_honeypot_catches_total',
    help: 'Public inquiries and tour requests caught by the spam trap.',
  },
};

/** The metrics workers' counters: the refresh outcomes. */
export const WORKER_COUNTERS: Record<string, CounterInfo> = {
  job_completed: {
    metric: 'homeroom_jobs_completed_total',
    help: 'Metrics jobs (refreshes and sweeps) that completed.',
  },
  job_failed: {
    metric: 'homeroom_job_failures_total',
    help: 'Metrics job attempts that failed and are retried while attempts remain.',
  },
  job_refused: {
    metric: 'homeroom_jobs_refused_total',
    help: 'Metrics jobs refused without retry (malformed payload, unknown or suspended tenant).',
  },
  refresh_deferred: {
    metric: 'homeroom_refresh_deferrals_total',
    help: 'Refreshes moved back to delayed because their tenant was being refreshed elsewhere.',
  },
  tenant_lock_lost: {
    metric: 'homeroom_tenant_lock_losses_total',
    help: 'Refreshes that lost their tenant lock while running (they do not publish).',
  },
};

/**
 * The counters in the Prometheus text exposition format (version 0.0.4): every counter of
 * `known` (zero until it moves) and any other one counted, each with HELP and TYPE lines.
 */
export function prometheusText(
  counters: ReadonlyMap<string, number>,
  known: Record<string, CounterInfo>,
): string {
  const lines: string[] = [];
  const names = new Set([...Object.keys(known), ...counters.keys()]);
  for (const name of [...names].sort()) {
    const info = known[name] ?? {
      metric: `homeroom_${name.replace(/[^a-zA-Z0-9_]/g, '_')}_total`,
      help: `Events counted as ${name.replace(/[^a-zA-Z0-9_ ]/g, '_')}.`,
    };
    lines.push(
      `# HELP ${info.metric} ${info.help}`,
      `# TYPE ${info.metric} counter`,
      `${info.metric} ${counters.get(name) ?? 0}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The content type of `prometheusText`. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
