/** Structured JSON lines on stdout/stderr: what workerd's and Node's log collectors read. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Counters of notable events (enqueue failures, limiter fallbacks), for tests and /health. */
  readonly counters: Map<string, number>;
  count(name: string): void;
}

/** A logger writing JSON lines at or above `level`. */
export function createLogger(level: Level = 'info', base: Record<string, unknown> = {}): Logger {
  const counters = new Map<string, number>();
  const write = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const line = JSON.stringify({
      level: lvl,
      msg,
      time: new Date().toISOString(),
      ...base,
      ...fields,
    });
    if (lvl === 'error' || lvl === 'warn') console.error(line);
    else console.log(line);
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
