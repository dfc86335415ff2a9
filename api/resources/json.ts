/**
 * The API speaks snake_case; drizzle rows are camelCase. These convert at the edge, and
 * decide what never leaves the server: the tenant id, the row's writer xid and any
 * column a resource marks hidden (password hashes, lock counters).
 */

import { getTableColumns } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';

const ALWAYS_HIDDEN = new Set(['tenantId', 'changedXid', 'deletedAt']);

export const snake = (key: string) => key.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
export const camel = (key: string) =>
  key.replace(/_([a-z0-9])/g, (_, m: string) => m.toUpperCase());

const NAMES = new WeakMap<PgTable, { toDb: Map<string, string>; fromDb: Map<string, string> }>();

/** Property ↔ column names of a table: the JSON field is the column's own name. */
function namesOf(table: PgTable) {
  let names = NAMES.get(table);
  if (!names) {
    const toDb = new Map<string, string>();
    const fromDb = new Map<string, string>();
    for (const [key, column] of Object.entries(getTableColumns(table))) {
      toDb.set(key, column.name);
      fromDb.set(column.name, key);
    }
    names = { toDb, fromDb };
    NAMES.set(table, names);
  }
  return names;
}

/**
 * A row as JSON: the columns' snake_case names (from the table when given, so
 * `section504` is `section_504`), timestamps as ISO-8601 UTC, hidden columns dropped.
 */
export function rowToJson(
  row: Record<string, unknown>,
  hidden: readonly string[] = [],
  table?: PgTable,
): Record<string, unknown> {
  const toDb = table ? namesOf(table).toDb : undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (ALWAYS_HIDDEN.has(key) || hidden.includes(key)) continue;
    out[toDb?.get(key) ?? snake(key)] = value instanceof Date ? value.toISOString() : value;
  }
  return out;
}

/** A validated snake_case body as column values (undefined fields left out). */
export function jsonToValues(
  body: Record<string, unknown>,
  table?: PgTable,
): Record<string, unknown> {
  const fromDb = table ? namesOf(table).fromDb : undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value !== undefined) out[fromDb?.get(key) ?? camel(key)] = value;
  }
  return out;
}

/** The fields that differ between two JSON images, for an audit row that says what changed. */
export function changedFields(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  ignore: readonly string[] = ['updated_at'],
): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const key of Object.keys(after)) {
    if (ignore.includes(key)) continue;
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      b[key] = before[key];
      a[key] = after[key];
    }
  }
  return { before: b, after: a };
}
