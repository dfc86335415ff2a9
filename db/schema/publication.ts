import { sql } from 'drizzle-orm';
import { json, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { oneOf, rule, tenantIndex, tenantKey, tenantPk, timestamps } from './columns.js';

export const METRICS = ['lead_funnel', 'attendance', 'grades', 'esa', 'finance'] as const;
export const DASHBOARD_PAGES = [
  'overview',
  'admissions',
  'attendance',
  'academics',
  'finance',
] as const;

/** Stands in for the tenant-wide scope (scope_id null) in unique indexes. */
const TENANT_SCOPE = sql.raw(`'00000000-0000-0000-0000-000000000000'::uuid`);

/**
 * Metric figures published by a refresh, one row per metric × scope × period. A refresh
 * replaces a tenant's rows in one transaction, so readers see one refresh or the next.
 */
export const metricSnapshots = pgTable(
  'metric_snapshots',
  {
    ...tenantKey,
    metric: text('metric').notNull(),
    scopeKind: text('scope_kind').notNull(),
    /** The school's org unit id; null for the tenant-wide scope. */
    scopeId: uuid('scope_id'),
    period: text('period').notNull(),
    /** JSON text as the refresh wrote it: stored and served as is, never queried into. */
    payload: json('payload').notNull(),
    asOf: timestamp('as_of', { withTimezone: true }).notNull(),
    refreshRunId: uuid('refresh_run_id'),
    ...timestamps,
  },
  (t) => [
    tenantPk('metric_snapshots', t),
    uniqueIndex('metric_snapshots_key')
      .on(t.tenantId, t.metric, t.scopeKind, sql`coalesce(${t.scopeId}, ${TENANT_SCOPE})`, t.period)
      .where(sql`${t.deletedAt} is null`),
    oneOf('metric_snapshots_metric_check', t.metric, METRICS),
    oneOf('metric_snapshots_scope_check', t.scopeKind, ['tenant', 'school']),
    rule(
      'metric_snapshots_scope_id_check',
      sql`(${t.scopeKind} = 'tenant') = (${t.scopeId} is null)`,
    ),
  ],
);

/** Rendered, self-contained dashboard HTML, per page × scope. */
export const dashboardPages = pgTable(
  'dashboard_pages',
  {
    ...tenantKey,
    page: text('page').notNull(),
    scopeKind: text('scope_kind').notNull(),
    scopeId: uuid('scope_id'),
    html: text('html').notNull(),
    asOf: timestamp('as_of', { withTimezone: true }).notNull(),
    refreshRunId: uuid('refresh_run_id'),
    ...timestamps,
  },
  (t) => [
    tenantPk('dashboard_pages', t),
    uniqueIndex('dashboard_pages_key')
      .on(t.tenantId, t.page, t.scopeKind, sql`coalesce(${t.scopeId}, ${TENANT_SCOPE})`)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('dashboard_pages_scope_idx', t.tenantId, t.scopeKind, t.scopeId),
    oneOf('dashboard_pages_page_check', t.page, DASHBOARD_PAGES),
    oneOf('dashboard_pages_scope_check', t.scopeKind, ['tenant', 'school']),
    rule(
      'dashboard_pages_scope_id_check',
      sql`(${t.scopeKind} = 'tenant') = (${t.scopeId} is null)`,
    ),
  ],
);
