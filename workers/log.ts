/**
 * Structured JSON lines for the workers (the same shape as the API's, so one collector reads
 * both). Fields are ids, counts and timings: never personal data.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Counters of notable events (lock contention, refused jobs), for tests and health. */
  readonly counters: Map<string, number>;
  count(name: string): void;
}

/** A logger writing JSON lines at or above `level` (warn and error on stderr). */
export function createLogger(
  level: Level = 'info',
  base: Record<string, unknown> = {},
  sink: (line: string, level: Level) => void = (line, lvl) =>
    lvl === 'warn' || lvl === 'error' ? console.error(line) : console.log(line),
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
