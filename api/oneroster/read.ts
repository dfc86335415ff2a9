import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type Info } from 'csv-parse';
import { DEFAULT_TEXT_MAX, MAX_ID_LENGTH, type ColumnCheck, type FileSpec } from './spec.js';

/** One problem of a bundle: where it is and what is wrong. */
export interface Problem {
  file: string;
  line: number | null;
  column: string | null;
  value: string | null;
  message: string;
}

/** Collects problems, keeping the first `max` of each kind (and the count of the rest). */
export class Problems {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];
  dropped = 0;
  constructor(private readonly max = 1000) {}
  error(p: Problem) {
    if (this.errors.length < this.max) this.errors.push(p);
    else this.dropped++;
  }
  warn(p: Problem) {
    if (this.warnings.length < this.max) this.warnings.push(p);
  }
  get count() {
    return this.errors.length + this.dropped;
  }
}

/** A checked row: the staging line number and the mapped columns (null = empty). */
export type StagedRow = { line: number } & Record<string, string | number | null>;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;
const MAX_FIELD = 64 * 1024;

function validDate(y: string, m: string, d: string): boolean {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return (
    date.getUTCFullYear() === Number(y) &&
    date.getUTCMonth() === Number(m) - 1 &&
    date.getUTCDate() === Number(d)
  );
}

/** Checks one value; returns the value to stage or an error message. */
export function checkValue(
  check: ColumnCheck,
  raw: string,
): { value: string | null } | { error: string } {
  const v = check.kind === 'text' ? raw : raw.trim();
  if (v === '') {
    if (check.kind === 'id') return { error: 'sourcedId is required' };
    if ('required' in check && check.required) return { error: 'a value is required' };
    return { value: null };
  }
  switch (check.kind) {
    case 'id':
      if (v.length > MAX_ID_LENGTH) return { error: `longer than ${MAX_ID_LENGTH} characters` };
      if (v.includes(',')) return { error: 'a sourcedId cannot contain a comma' };
      return { value: v };
    case 'text': {
      const max = check.max ?? DEFAULT_TEXT_MAX;
      if (v.length > max) return { error: `longer than ${max} characters` };
      return { value: v };
    }
    case 'ref':
      if (v.length > MAX_ID_LENGTH) return { error: `longer than ${MAX_ID_LENGTH} characters` };
      return { value: v };
    case 'refs': {
      const ids = v.split(',').map((s) => s.trim());
      if (ids.some((s) => s === '')) return { error: 'an empty sourcedId in the list' };
      if (ids.some((s) => s.length > MAX_ID_LENGTH))
        return { error: `a sourcedId longer than ${MAX_ID_LENGTH} characters` };
      return { value: ids.join(',') };
    }
    case 'date': {
      const m = DATE.exec(v);
      if (!m || !validDate(m[1]!, m[2]!, m[3]!)) return { error: 'not a date (YYYY-MM-DD)' };
      return { value: v };
    }
    case 'datetime': {
      const m = DATETIME.exec(v);
      if (!m || !validDate(m[1]!, m[2]!, m[3]!))
        return { error: 'not a date or date-time (ISO 8601)' };
      if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59))
        return { error: 'not a date or date-time (ISO 8601)' };
      return { value: v };
    }
    case 'enum':
      if (!check.values.includes(v)) return { error: `not one of ${check.values.join(', ')}` };
      return { value: v };
    case 'bool': {
      const b = v.toLowerCase();
      if (b !== 'true' && b !== 'false') return { error: 'not true or false' };
      return { value: b };
    }
    case 'number': {
      if (!NUMBER.test(v) || v.length > 20) return { error: 'not a number' };
      const n = Number(v);
      if (check.min !== undefined && n < check.min) return { error: `below ${check.min}` };
      if (Math.abs(n) >= 1e5) return { error: 'too large (at most 99999.99)' };
      return { value: v };
    }
  }
}

/**
 * Decodes UTF-8 as it streams; bytes that are not UTF-8 become U+FFFD, which the row
 * check reports with its line (a whole file is never held to find them).
 */
function utf8(): Transform {
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });
  return new Transform({
    readableObjectMode: false,
    transform(chunk: Buffer, _enc, done) {
      done(null, decoder.decode(chunk, { stream: true }));
    },
    flush(done) {
      done(null, decoder.decode());
    },
  });
}

export interface ReadOptions {
  file: string;
  spec: FileSpec;
  problems: Problems;
  /** Receives the checked rows in batches; awaited (backpressure). */
  onBatch: (rows: StagedRow[]) => Promise<void>;
  batchSize?: number;
  /** Whether the header must have `sourcedId` (every data file; not the manifest). */
  sourcedIds?: boolean;
}

/**
 * Streams one CSV file: the header checked against the spec (missing required columns
 * stop the file; unknown columns are warnings), then every row checked column by column.
 * Rows with errors are reported and not staged. Returns the number of data rows read, or
 * null when the header made the file unreadable.
 */
export async function readCsv(input: Readable, options: ReadOptions): Promise<number | null> {
  const { file, problems } = options;
  const batchSize = options.batchSize ?? 2000;
  const parser = parse({
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_FIELD * 4,
  });
  let header: string[] | null = null;
  let positions: Position[] = [];
  let rows = 0;
  let batch: StagedRow[] = [];
  let headerBad = false;
  const badBytes = { reported: 0 };

  const consume = new Writable({
    objectMode: true,
    write(item: { record: string[]; info: Info }, _enc, done) {
      const { record, info } = item;
      const line = info.lines;
      if (!header) {
        header = record.map((h) => h.trim());
        const checked = checkHeader(header, options);
        positions = checked.positions;
        headerBad = !checked.ok;
        return done(headerBad ? new HeaderStop() : null);
      }
      rows++;
      const row = checkRow(record, line, header.length, positions, options, badBytes);
      if (!row) return done();
      batch.push(row);
      if (batch.length >= batchSize) {
        const full = batch;
        batch = [];
        options.onBatch(full).then(() => done(), done);
      } else done();
    },
    final(done) {
      if (!batch.length) return done();
      options.onBatch(batch).then(() => done(), done);
    },
  });

  try {
    await pipeline(input, utf8(), parser, consume);
  } catch (err) {
    if (err instanceof HeaderStop) return null;
    const e = err as Error & { code?: string; lines?: number };
    if (e.code?.startsWith('CSV_')) {
      problems.error({
        file,
        line: e.lines ?? null,
        column: null,
        value: null,
        message: `unreadable CSV: ${e.message}`,
      });
      return rows;
    }
    throw err;
  }
  if (!header) {
    problems.error({
      file,
      line: 1,
      column: null,
      value: null,
      message: 'the file is empty (no header)',
    });
    return null;
  }
  return headerBad ? null : rows;
}

class HeaderStop extends Error {}

/** A column of the spec: its name, its index in the header, its check. */
type Position = [string, number, ColumnCheck];

/** Checks a header against the spec; the positions of the spec's columns in it. */
function checkHeader(
  h: string[],
  { file, spec, problems, sourcedIds }: ReadOptions,
): { ok: boolean; positions: Position[] } {
  const known = new Set([...Object.keys(spec.columns), ...spec.ignored]);
  const seen = new Set<string>();
  let ok = true;
  h.forEach((name) => {
    if (seen.has(name)) {
      problems.error({
        file,
        line: 1,
        column: name,
        value: name,
        message: 'a column is twice in the header',
      });
      ok = false;
    }
    seen.add(name);
    if (!known.has(name) && !name.startsWith('metadata.'))
      problems.warn({
        file,
        line: 1,
        column: name,
        value: name,
        message: 'unknown column, ignored',
      });
  });
  for (const required of [
    ...(sourcedIds === false ? [] : ['sourcedId']),
    ...spec.requiredHeaders,
  ]) {
    if (!seen.has(required)) {
      problems.error({
        file,
        line: 1,
        column: required,
        value: null,
        message: `the header lacks the required column ${required}`,
      });
      ok = false;
    }
  }
  const positions = Object.entries(spec.columns)
    .map(([name, check]) => [name, h.indexOf(name), check] as Position)
    .filter(([, i]) => i >= 0);
  return { ok, positions };
}

/** Checks one data row column by column; null when it has errors (they are reported). */
function checkRow(
  record: string[],
  line: number,
  headerLength: number,
  positions: Position[],
  { file, problems }: ReadOptions,
  badBytes: { reported: number },
): StagedRow | null {
  if (record.length !== headerLength) {
    problems.error({
      file,
      line,
      column: null,
      value: null,
      message: `the row has ${record.length} fields, the header ${headerLength}`,
    });
    return null;
  }
  const row: StagedRow = { line };
  let ok = true;
  for (const [name, index, check] of positions) {
    const raw = record[index]!;
    if (raw.includes('\uFFFD')) {
      ok = false;
      if (badBytes.reported++ < 20)
        problems.error({ file, line, column: name, value: raw, message: 'not UTF-8' });
      continue;
    }
    const checked = checkValue(check, raw);
    if ('error' in checked) {
      ok = false;
      problems.error({
        file,
        line,
        column: name,
        value: raw.length > 200 ? `${raw.slice(0, 200)}…` : raw,
        message: checked.error,
      });
    } else row[name] = checked.value;
  }
  if (ok) ok = crossCheck(row, file, line, problems);
  if (!ok) return null;
  return row;
}

/** Checks between columns of one row (date order). */
function crossCheck(row: StagedRow, file: string, line: number, problems: Problems): boolean {
  for (const [from, to] of [
    ['startDate', 'endDate'],
    ['beginDate', 'endDate'],
  ] as const) {
    const a = row[from];
    const b = row[to];
    if (typeof a === 'string' && typeof b === 'string' && b < a) {
      problems.error({ file, line, column: to, value: b, message: `before ${from} ${a}` });
      return false;
    }
  }
  return true;
}
