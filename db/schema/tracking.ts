import { pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantIndex, tenantKey, tenantPk } from './columns.js';

/**
 * One row per hard-deleted tenant row (written by a trigger, see tenant-guards.sql), so
 * incremental extraction carries deletes as well as soft deletes (`deleted_at`).
 */
export const rowTombstones = pgTable(
  'row_tombstones',
  {
    ...tenantKey,
    tableName: text('table_name').notNull(),
    rowId: uuid('row_id').notNull(),
    removedAt: timestamp('removed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    tenantPk('row_tombstones', t),
    tenantIndex('row_tombstones_changed_idx', t.tenantId, t.changedXid),
    tenantIndex('row_tombstones_table_idx', t.tenantId, t.tableName, t.rowId),
  ],
);
