/**
 * Bulk loading with `COPY … FROM STDIN` (text format) through pg-copy-streams, streamed from
 * row generators with backpressure: rows are encoded into ~64 KB chunks and the generator is
 * only pulled when the socket has drained, so memory stays flat whatever the table's size.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ident } from '../sql-text.js';

/** One column value: null is SQL NULL; arrays become PostgreSQL array literals. */
export type Cell = string | number | boolean | null | readonly string[];
export type Row = readonly Cell[];

/** A table to load: its columns (tenant_id excluded; the loader adds it) and its rows. */
export interface TableSource {
  table: string;
  columns: readonly string[];
  rows: () => Iterable<Row> | AsyncIterable<Row>;
}

const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Escapes a value for COPY's text format: backslash, tab, newline and carriage return. */
export function escapeText(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : value;
}

/** An array literal (`{"a","b"}`), every element quoted so commas and braces are safe. */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/** Encodes one cell of a row in COPY text format. */
export function encodeCell(cell: Cell): string {
  if (cell === null) return '\\N';
  switch (typeof cell) {
    case 'string':
      return escapeText(cell);
    case 'number':
      if (!Number.isFinite(cell)) throw new Error(`cannot COPY the number ${cell}`);
      return String(cell);
    case 'boolean':
      return cell ? 't' : 'f';
    default:
      return escapeText(arrayLiteral(cell));
  }
}

/** Encodes a row, prefixed with the tenant id, as one COPY text line. */
export function encodeRow(prefix: string, row: Row): string {
  let line = prefix;
  for (let i = 0; i < row.length; i++) {
    if (i > 0) line += '\t';
    line += encodeCell(row[i]!);
  }
  return line + '\n';
}

const CHUNK_CHARS = 64 * 1024;

export interface CopyOptions {
  /**
   * Rows per COPY statement. Foreign-key checks queue one after-trigger event per row until
   * the statement ends; bounding the statement bounds that queue in the server's memory.
   */
  rowsPerStatement?: number;
  /** Called after each chunk with the running row count. */
  onRows?: (rows: number) => void;
}

/**
 * Streams a table's rows into COPY statements for one tenant and returns the row count.
 * Runs in the caller's transaction; an error (bad value, failed constraint) rejects and
 * leaves the transaction to be rolled back by the caller.
 */
export async function copyTable(
  client: ClientBase,
  tenantId: string,
  source: TableSource,
  options: CopyOptions = {},
): Promise<number> {
  const perStatement = options.rowsPerStatement ?? 1_000_000;
  const sql = `COPY ${ident(source.table)} (tenant_id, ${source.columns.map(ident).join(', ')}) FROM STDIN`;
  const prefix = `${tenantId}\t`;
  const rows = source.rows();
  // Sync generators are pulled without an await per row: that is most of the hot path.
  const syncRows = Symbol.iterator in rows ? rows[Symbol.iterator]() : null;
  const asyncRows = syncRows ? null : (rows as AsyncIterable<Row>)[Symbol.asyncIterator]();
  let total = 0;
  let exhausted = false;

  async function* chunks(): AsyncGenerator<string> {
    let inStatement = 0;
    let buffer = '';
    while (inStatement < perStatement) {
      const next = syncRows ? syncRows.next() : await asyncRows!.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const row = next.value;
      if (row.length !== source.columns.length) {
        throw new Error(
          `${source.table}: row has ${row.length} values for ${source.columns.length} columns`,
        );
      }
      buffer += encodeRow(prefix, row);
      inStatement++;
      total++;
      if (buffer.length >= CHUNK_CHARS) {
        yield buffer;
        buffer = '';
        options.onRows?.(total);
      }
    }
    if (buffer) yield buffer;
    options.onRows?.(total);
  }

  while (!exhausted) {
    const stream = client.query(copyFrom(sql));
    await pipeline(Readable.from(chunks(), { objectMode: false }), stream);
  }
  return total;
}
