/**
 * Progress of a seed run. On a terminal: one line per table, rewritten in place with the
 * running row count and rate. Elsewhere (CI logs, files): one plain line per finished
 * table, so logs stay readable. Ends with a summary table.
 */

export interface TableResult {
  table: string;
  rows: number;
  ms: number;
}

export interface SeedSummary {
  tables: TableResult[];
  totalRows: number;
  loadMs: number;
  databaseSize: string;
}

/** What the loader reports to; `silentProgress` when nobody is watching. */
export interface Progress {
  start(table: string): void;
  rows(table: string, rows: number): void;
  finish(result: TableResult): void;
  note(line: string): void;
}

export const silentProgress: Progress = {
  start() {},
  rows() {},
  finish() {},
  note() {},
};

/** Where progress goes: stdout or any writable with an optional TTY flag. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

const number = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => (ms / 1000).toFixed(1);
const rate = (rows: number, ms: number) => number(Math.round(rows / Math.max(ms / 1000, 0.001)));

/** Progress on a terminal (rewritten lines) or as plain lines, by the output's TTY flag. */
export function createProgress(out: ProgressOutput, tty = out.isTTY === true): Progress {
  let started = 0;
  let lastDraw = 0;
  const line = (table: string, rows: number, ms: number) =>
    `${table.padEnd(26)} ${number(rows).padStart(11)} rows ${rate(rows, ms).padStart(10)} rows/s ${seconds(ms).padStart(7)} s`;
  return {
    start() {
      started = performance.now();
      lastDraw = 0;
    },
    rows(table, rows) {
      if (!tty) return;
      const now = performance.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      out.write(`\r\x1b[2K${line(table, rows, now - started)}`);
    },
    finish(result) {
      out.write(`${tty ? '\r\x1b[2K' : ''}${line(result.table, result.rows, result.ms)}\n`);
    },
    note(text) {
      out.write(`${text}\n`);
    },
  };
}

/** The closing summary: rows per table, total, load time and database size. */
export function formatSummary(summary: SeedSummary): string {
  const width = Math.max(5, ...summary.tables.map((t) => t.table.length));
  const rows = summary.tables.map(
    (t) =>
      `  ${t.table.padEnd(width)}  ${number(t.rows).padStart(11)}  ${seconds(t.ms).padStart(7)} s`,
  );
  const rule = `  ${'-'.repeat(width)}  ${'-'.repeat(11)}  ${'-'.repeat(9)}`;
  return [
    `  ${'table'.padEnd(width)}  ${'rows'.padStart(11)}  ${'time'.padStart(9)}`,
    rule,
    ...rows,
    rule,
    `  ${'total'.padEnd(width)}  ${number(summary.totalRows).padStart(11)}  ${seconds(summary.loadMs).padStart(7)} s`,
    '',
    `  load time     ${seconds(summary.loadMs)} s (${rate(summary.totalRows, summary.loadMs)} rows/s)`,
    `  database size ${summary.databaseSize}`,
  ].join('\n');
}
