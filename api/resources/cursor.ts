import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { ApiError } from '../problems.js';
import { isUuid } from '../../db/ids.js';

/**
 * Opaque keyset cursors: `(sort value as PostgreSQL text, id)`, base64url. The sort value
 * travels as text and is cast back with the column's own type, so timestamps keep their
 * microseconds and pages neither skip nor repeat rows with equal sort values.
 */
export interface Cursor {
  value: string;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([c.value, c.id]));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor(raw: string): Cursor {
  try {
    const bin = atob(raw.replace(/-/g, '+').replace(/_/g, '/'));
    const text = new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
    const [value, id] = JSON.parse(text) as unknown[];
    if (typeof value === 'string' && value.length <= 200 && isUuid(id)) return { value, id };
  } catch {
    // fall through
  }
  throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
    invalidParams: [{ name: 'query.cursor', reason: 'not a cursor this API issued' }],
  });
}

/** Rows after the cursor in `(column, id)` order. */
export function afterCursor(
  column: PgColumn,
  id: PgColumn,
  cursor: Cursor,
  direction: 'asc' | 'desc',
): SQL {
  const type = sql.raw(column.getSQLType());
  const op = sql.raw(direction === 'asc' ? '>' : '<');
  return sql`(${column}, ${id}) ${op} (${cursor.value}::${type}, ${cursor.id}::uuid)`;
}
