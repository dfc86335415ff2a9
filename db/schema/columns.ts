import { sql, type SQL } from 'drizzle-orm';
import {
  check,
  customType,
  foreignKey,
  index,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type PgColumn,
} from 'drizzle-orm/pg-core';

/**
 * Column sets shared by every tenant-owned table.
 *
 * Every tenant table has a composite primary key (tenant_id, id): it makes every index
 * lead with tenant_id and lets foreign keys include tenant_id, so a row can never point
 * at another tenant's row even if application code passes a foreign id.
 */
/** PostgreSQL's 64-bit transaction id, read as text (it exceeds JavaScript's safe integers). */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

export const tenantKey = {
  tenantId: uuid('tenant_id').notNull(),
  id: uuid('id').notNull().defaultRandom(),
  /**
   * Transaction that last wrote the row (set on insert by default and on update by the
   * trigger in tenant-guards.sql). Incremental extraction reads the rows whose writer was
   * not yet visible in the previous extraction's snapshot, so a row committed by a
   * transaction still in flight back then is never missed.
   */
  changedXid: xid8('changed_xid')
    .notNull()
    .default(sql`pg_current_xact_id()`),
};

export const createdAt = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
};

/** For mutable tables: updated_at is also kept current by a trigger (see db/sql/tenant-guards.sql). */
export const timestamps = {
  ...createdAt,
  updatedAt: timestamp('updated_at', { withTimezone: true })
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date()),
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
};

interface Keyed {
  tenantId: PgColumn;
  id: PgColumn;
}

/** The composite primary key every tenant table uses. */
export function tenantPk(name: string, t: Keyed) {
  return primaryKey({ name: `${name}_pkey`, columns: [t.tenantId, t.id] });
}

/** A foreign key that includes tenant_id on both sides. */
export function tenantFk(name: string, tenantId: PgColumn, column: PgColumn, target: Keyed) {
  return foreignKey({
    name,
    columns: [tenantId, column],
    foreignColumns: [target.tenantId, target.id],
  });
}

/** An index that leads with tenant_id, as every tenant-table index should. */
export function tenantIndex(name: string, tenantId: PgColumn, ...columns: (PgColumn | SQL)[]) {
  return index(name).on(tenantId, ...columns);
}

/** `column IN (...)` as a named check constraint. */
export function oneOf(name: string, column: PgColumn, values: readonly string[]) {
  const list = sql.join(
    values.map((v) => sql.raw(`'${v.replace(/'/g, "''")}'`)),
    sql`, `,
  );
  return check(name, sql`${column} in (${list})`);
}

/** A named check constraint. */
export function rule(name: string, condition: SQL) {
  return check(name, condition);
}

/**
 * The id a row had in the system it was imported from (a OneRoster `sourcedId`): later
 * imports find the row by it and update it in place. Unique per tenant, deleted rows
 * included, so a re-import brings a soft-deleted row back instead of copying it.
 */
export const sourced = {
  sourceId: text('source_id'),
};

/** The unique index of {@link sourced}. */
export function sourcedKey(table: string, t: { tenantId: PgColumn; sourceId: PgColumn }) {
  return uniqueIndex(`${table}_source_key`)
    .on(t.tenantId, t.sourceId)
    .where(sql`${t.sourceId} is not null`);
}
