import { boolean, customType, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { oneOf, tenantFk, tenantIndex, tenantKey, tenantPk, timestamps } from './columns.js';
import { users } from './people.js';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

export const DATA_IMPORT_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type DataImportStatus = (typeof DATA_IMPORT_STATUSES)[number];

/**
 * An uploaded OneRoster bundle and what became of it. The bundle waits in `bundle` until a
 * worker has run the import (any worker process can, the upload is in the branch), then is
 * cleared; the report stays.
 */
export const dataImports = pgTable(
  'data_imports',
  {
    ...tenantKey,
    format: text('format').notNull().default('oneroster'),
    status: text('status').notNull().default('queued'),
    dryRun: boolean('dry_run').notNull().default(false),
    fileName: text('file_name'),
    bundle: bytea('bundle'),
    progress: jsonb('progress'),
    report: jsonb('report'),
    createdBy: uuid('created_by'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    tenantPk('data_imports', t),
    tenantFk('data_imports_created_by_fk', t.tenantId, t.createdBy, users),
    tenantIndex('data_imports_created_idx', t.tenantId, t.createdAt),
    oneOf('data_imports_status_check', t.status, DATA_IMPORT_STATUSES),
    oneOf('data_imports_format_check', t.format, ['oneroster']),
  ],
);
