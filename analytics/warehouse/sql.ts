/**
 * Running DuckDB SQL on a connection: the `SqlRunner` shape that the warehouse and its writer
 * share, statements with bound text parameters, and result rows read as JSON values.
 */
import { DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';

/** A SQL string literal. */
export const lit = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Values bound to `$1`, `$2`, … (text; cast in the statement where needed). */
export type SqlParams = readonly (string | null)[];

/** Anything that runs DuckDB SQL: the warehouse (autocommit) or a writer (in a transaction). */
export interface SqlRunner {
  /** Runs a statement; `params` are bound as text (no SQL literal to parse). */
  run(sql: string, params?: SqlParams): Promise<number>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

/** Runs one statement; the number of rows it changed. */
export async function runSql(
  conn: DuckDBConnection,
  sql: string,
  params?: SqlParams,
): Promise<number> {
  const result = await conn.run(sql, params ? [...params] : undefined);
  return result.rowsChanged;
}

/**
 * Column types `getRowObjects` reads as plain JS values — the values `getRowObjectsJson`
 * gives, non-finite doubles aside — without converting every value (several times faster
 * on the large reads of a metrics run).
 */
const PLAIN_TYPES: ReadonlySet<DuckDBTypeId> = new Set([
  DuckDBTypeId.BOOLEAN,
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.VARCHAR,
]);

/** Result rows as JSON-compatible objects (BIGINT, DECIMAL, dates, UUIDs as strings). */
export async function rowsSql<T>(conn: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql);
  const types = reader.columnTypes();
  if (!types.every((t) => PLAIN_TYPES.has(t.typeId))) return reader.getRowObjectsJson() as T[];
  const rows = reader.getRowObjects() as Record<string, unknown>[];
  const names = reader.deduplicatedColumnNames();
  const doubles = names.filter(
    (_n, i) => types[i]!.typeId === DuckDBTypeId.DOUBLE || types[i]!.typeId === DuckDBTypeId.FLOAT,
  );
  // As the JSON conversion writes them: NaN and ±Infinity as strings.
  for (const c of doubles) {
    for (const r of rows) {
      const v = r[c];
      if (typeof v === 'number' && !Number.isFinite(v)) r[c] = String(v);
    }
  }
  return rows as T[];
}
