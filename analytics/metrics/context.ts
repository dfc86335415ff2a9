/**
 * What every metric query shares: the as-of date, the scopes (the tenant and each school)
 * and the period windows of each scope, as temporary DuckDB tables.
 *
 * Scopes. The tenant scope covers every fact, including those with no school. A school
 * scope covers facts whose org unit is the school or one of its descendants (a campus
 * under a school). Schools are org units of kind school, microschool or campus.
 *
 * Windows, per scope (end is always ≤ the as-of date):
 * - `school_year`: the `school_year` session containing the as-of date, taken from the
 *   school's own sessions or its nearest ancestor's (a network shares one calendar). The
 *   tenant uses the span of every school-year session containing the date. Between years
 *   (summer) the most recent year that started is used. No session at all: the trailing
 *   365 days (`source: 'fallback'`).
 * - `term`: the same rule with `term` sessions; no term: the school-year window.
 * - `last_30_days`: the as-of date and the 29 days before it.
 *
 * Every fact table joins `_m_scope_windows` on (unit, date within the window), which fans
 * a fact out to each scope and period it belongs to.
 *
 * Dates and zones. Timestamps are instants (UTC in the warehouse). A fact's date (inquiry
 * day, stage move day, received day, application day) is its local date in its school's
 * zone: the unit's own `timezone`, else its nearest ancestor's, else the tenant's (so the
 * tenant's zone only for rows with no school, or no zone anywhere above them). A fact is cut
 * at the as-of date by its local date too (`byAsOf`: voids, grading, conversions). Durations are
 * differences between instants, so a daylight-saving change shifts nothing.
 */
import { SCHOOL_KINDS as KINDS } from '../../db/schema/org.js';
import { lit, type SqlRunner } from '../warehouse.js';
import type { MetricPeriod, MetricWindow, ScopeKind } from './types.js';

/** Stands in for "no school" and for the tenant scope's id inside queries. */
export const NO_UNIT = '00000000-0000-0000-0000-000000000000';
export const SCHOOL_KINDS = `(${KINDS.map((k) => `'${k}'`).join(', ')})`;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ZONE = /^[A-Za-z0-9_+\-/]{1,64}$/;

/** Validates a `YYYY-MM-DD` date. */
export function parseAsOf(asOf: string): string {
  if (!DATE.test(asOf) || Number.isNaN(Date.parse(`${asOf}T00:00:00Z`))) {
    throw new Error(`as-of date must be YYYY-MM-DD, got "${asOf}"`);
  }
  if (new Date(`${asOf}T00:00:00Z`).toISOString().slice(0, 10) !== asOf) {
    throw new Error(`as-of date ${asOf} does not exist`);
  }
  return asOf;
}

export interface ScopeWindow {
  scopeKind: ScopeKind;
  scopeId: string | null;
  period: MetricPeriod;
  window: MetricWindow;
}

/** Key of a (scope, period) in result maps. */
export const scopeKey = (kind: string, id: string | null, period: string) =>
  `${kind}|${id ?? ''}|${period}`;

/**
 * How a metric's base aggregates (its large intermediate tables) are obtained:
 * - `temp`: built from scratch as temporary tables, dropped afterwards;
 * - `rebuild`: built from scratch into warehouse tables (`agg_*`) kept for the next run;
 * - `patch`: the kept tables are brought up to date from the changed rows of this run
 *   (`temp._delta_<table>`), recomputing only the keys those rows touch.
 */
export type BaseMode = 'temp' | 'rebuild' | 'patch';

/**
 * The period windows of every scope (`_m_windows`: scope, period, start and end date,
 * source, session), by the rules at the top of this file.
 */
function windowsSql(asOf: string): string {
  return `WITH sess AS (
      SELECT id, org_unit_id, kind, start_date, end_date FROM academic_sessions
       WHERE kind IN ('school_year', 'term') AND start_date <= ${asOf}),
    school_pick AS (
      SELECT s.school_id, se.kind, se.id, se.start_date, se.end_date,
             row_number() OVER (PARTITION BY s.school_id, se.kind
               ORDER BY (se.end_date >= ${asOf}) DESC, a.depth, se.start_date DESC, se.id) AS rn
        FROM _m_schools s
        JOIN _m_ancestors a ON a.unit_id = s.school_id
        JOIN sess se ON se.org_unit_id = a.ancestor_id),
    tenant_containing AS (
      SELECT kind, min(start_date) AS start_date, max(end_date) AS end_date,
             CASE WHEN count(*) = 1 THEN any_value(id) END AS id
        FROM sess WHERE end_date >= ${asOf} GROUP BY kind),
    tenant_latest AS (
      SELECT kind, arg_max(id, start_date) AS id, max(start_date) AS start_date,
             arg_max(end_date, start_date) AS end_date
        FROM sess GROUP BY kind),
    tenant_pick AS (
      SELECT k.kind, coalesce(c.start_date, l.start_date) AS start_date,
             coalesce(c.end_date, l.end_date) AS end_date,
             CASE WHEN c.kind IS NOT NULL THEN c.id ELSE l.id END AS id
        FROM (SELECT DISTINCT kind FROM sess) k
        LEFT JOIN tenant_containing c ON c.kind = k.kind
        LEFT JOIN tenant_latest l ON l.kind = k.kind),
    scopes AS (
      SELECT 'tenant' AS scope_kind, '${NO_UNIT}'::UUID AS scope_id
      UNION ALL SELECT 'school', school_id FROM _m_schools),
    years AS (
      SELECT sc.scope_kind, sc.scope_id,
             coalesce(sp.start_date, tp.start_date, ${asOf} - INTERVAL 364 DAY)::DATE AS start_date,
             least(coalesce(sp.end_date, tp.end_date, ${asOf}), ${asOf}) AS end_date,
             CASE WHEN coalesce(sp.start_date, tp.start_date) IS NOT NULL
                  THEN 'session' ELSE 'fallback' END AS source,
             coalesce(sp.id, tp.id) AS session_id
        FROM scopes sc
        LEFT JOIN school_pick sp ON sc.scope_kind = 'school' AND sp.school_id = sc.scope_id
              AND sp.kind = 'school_year' AND sp.rn = 1
        LEFT JOIN tenant_pick tp ON tp.kind = 'school_year'),
    terms AS (
      SELECT sc.scope_kind, sc.scope_id,
             coalesce(sp.start_date, tp.start_date) AS start_date,
             least(coalesce(sp.end_date, tp.end_date), ${asOf}) AS end_date,
             coalesce(sp.id, tp.id) AS session_id
        FROM scopes sc
        LEFT JOIN school_pick sp ON sc.scope_kind = 'school' AND sp.school_id = sc.scope_id
              AND sp.kind = 'term' AND sp.rn = 1
        LEFT JOIN tenant_pick tp ON tp.kind = 'term')
    SELECT scope_kind, scope_id, 'school_year' AS period, start_date, end_date, source, session_id FROM years
    UNION ALL
    SELECT t.scope_kind, t.scope_id, 'term',
           coalesce(t.start_date, y.start_date), coalesce(t.end_date, y.end_date),
           CASE WHEN t.start_date IS NULL THEN 'fallback' ELSE 'session' END,
           CASE WHEN t.start_date IS NULL THEN y.session_id ELSE t.session_id END
      FROM terms t JOIN years y USING (scope_kind, scope_id)
    UNION ALL
    SELECT scope_kind, scope_id, 'last_30_days', (${asOf} - INTERVAL 29 DAY)::DATE, ${asOf},
           'trailing', NULL
      FROM scopes`;
}

/** A metric computation over one runner: temporary tables, the as-of literal. */
export class MetricContext {
  /** `DATE 'YYYY-MM-DD'`. */
  readonly asOfSql: string;
  private readonly temps: string[] = [];
  scopes: ScopeWindow[] = [];

  constructor(
    readonly runner: SqlRunner,
    readonly asOf: string,
    /** The tenant's IANA zone: dates of facts with no school (or no zone above them). */
    readonly timezone = 'UTC',
  ) {
    this.asOfSql = `DATE '${parseAsOf(asOf)}'`;
    if (!ZONE.test(timezone)) throw new Error(`time zone must be an IANA name, got "${timezone}"`);
  }

  /** The table holding base aggregate `name` in `mode`. */
  base(name: string, mode: BaseMode): string {
    return mode === 'temp' ? `temp."_m_${name}"` : `agg_${name}`;
  }

  /** Creates base aggregate `name` from a query (a temporary or a kept table). */
  async createBase(name: string, mode: BaseMode, query: string): Promise<void> {
    if (mode === 'temp') return this.temp(`_m_${name}`, query);
    await this.runner.run(`CREATE OR REPLACE TABLE agg_${name} AS ${query}`);
  }

  rows<T>(sql: string): Promise<T[]> {
    return this.runner.rows<T>(sql);
  }

  /** Creates a temporary table from a query; dropped by `dispose`. */
  async temp(name: string, query: string): Promise<void> {
    this.temps.push(name);
    await this.runner.run(`CREATE OR REPLACE TEMP TABLE "${name}" AS ${query}`);
  }

  async dispose(): Promise<void> {
    const names = [...new Set(this.temps)].reverse();
    this.temps.length = 0;
    if (names.length === 0) return;
    // One round trip for every drop.
    await this.runner
      .run(names.map((name) => `DROP TABLE IF EXISTS temp."${name}"`).join(';\n'))
      .catch(() => undefined);
  }

  /** Builds the scope and window tables; call once before any metric. */
  async prepare(): Promise<void> {
    await this.prepareUnits();
    await this.temp('_m_windows', windowsSql(this.asOfSql));
    // Window boundaries cut the calendar into segments that lie wholly inside or outside
    // every window: facts are summed per segment first, then segments joined to windows,
    // instead of joining every fact row to every window.
    await this.temp(
      '_m_bounds',
      `SELECT DISTINCT start_date AS b FROM _m_windows
       UNION SELECT DISTINCT (end_date + INTERVAL 1 DAY)::DATE FROM _m_windows`,
    );
    await this.temp(
      '_m_scope_windows',
      `SELECT us.unit_id, w.scope_kind, w.scope_id, w.period, w.start_date, w.end_date
         FROM _m_unit_scopes us JOIN _m_windows w USING (scope_kind, scope_id)`,
    );
    await this.readScopes();
  }

  /**
   * Units (`_m_ancestors`, `_m_schools`), the scopes each unit a fact can point at belongs
   * to (`_m_unit_scopes`) and each unit's zone and as-of cutoff (`_m_unit_zone`).
   */
  private async prepareUnits(): Promise<void> {
    const asOf = this.asOfSql;
    await this.temp(
      '_m_ancestors',
      `WITH RECURSIVE anc(unit_id, ancestor_id, depth) AS (
         SELECT id, id, 0 FROM org_units
         UNION ALL
         SELECT a.unit_id, o.parent_id, a.depth + 1
           FROM anc a JOIN org_units o ON o.id = a.ancestor_id
          WHERE o.parent_id IS NOT NULL AND a.depth < 16)
       SELECT unit_id, ancestor_id, min(depth) AS depth FROM anc GROUP BY ALL`,
    );
    await this.temp(
      '_m_schools',
      `SELECT id AS school_id FROM org_units WHERE kind IN ${SCHOOL_KINDS}`,
    );
    // Every unit a fact can point at: org units, plus ids of units no longer in the
    // warehouse (soft-deleted), plus "no school". All of them belong to the tenant scope.
    await this.temp(
      '_m_unit_scopes',
      `WITH units AS (
         SELECT id AS unit_id FROM org_units
         UNION SELECT school_id FROM calendar_days
         UNION SELECT school_id FROM school_enrollments
         UNION SELECT school_id FROM classes
         UNION SELECT school_id FROM leads WHERE school_id IS NOT NULL
         UNION SELECT school_id FROM invoices WHERE school_id IS NOT NULL
         UNION SELECT school_id FROM billing_accounts WHERE school_id IS NOT NULL
         UNION SELECT school_id FROM esa_applications WHERE school_id IS NOT NULL
         UNION SELECT school_id FROM students
         UNION SELECT '${NO_UNIT}'::UUID)
       SELECT unit_id, 'tenant' AS scope_kind, '${NO_UNIT}'::UUID AS scope_id FROM units
       UNION ALL
       SELECT a.unit_id, 'school', a.ancestor_id
         FROM _m_ancestors a JOIN _m_schools s ON s.school_id = a.ancestor_id`,
    );
    // Each unit's zone (see the header); names DuckDB does not know fall through.
    await this.temp(
      '_m_unit_zone',
      `WITH known AS (SELECT name FROM pg_timezone_names()),
       zoned AS (
         SELECT a.unit_id, arg_min(o.timezone, a.depth) AS zone
           FROM _m_ancestors a JOIN org_units o ON o.id = a.ancestor_id
          WHERE o.timezone IN (SELECT name FROM known)
          GROUP BY a.unit_id),
       unit_zone AS (
         SELECT u.unit_id, coalesce(any_value(z.zone), ${lit(this.timezone)}) AS zone
           FROM _m_unit_scopes u LEFT JOIN zoned z USING (unit_id)
          GROUP BY u.unit_id)
       SELECT unit_id, zone,
              timezone('UTC', timezone(zone, (${asOf} + INTERVAL 1 DAY)::TIMESTAMP)) AS cutoff
         FROM unit_zone`,
    );
  }

  /** `scopes` from `_m_windows`. */
  private async readScopes(): Promise<void> {
    const rows = await this.rows<{
      scope_kind: ScopeKind;
      scope_id: string;
      period: MetricPeriod;
      start_date: string;
      end_date: string;
      source: MetricWindow['source'];
      session_id: string | null;
    }>(
      `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period, start_date::VARCHAR AS start_date,
              end_date::VARCHAR AS end_date, source, session_id::VARCHAR AS session_id
         FROM _m_windows ORDER BY scope_kind DESC, scope_id, period`,
    );
    this.scopes = rows.map((r) => ({
      scopeKind: r.scope_kind,
      scopeId: r.scope_kind === 'tenant' ? null : r.scope_id,
      period: r.period,
      window: {
        start: r.start_date,
        end: r.end_date,
        source: r.source,
        session_id: r.session_id,
      },
    }));
  }
}

/**
 * The local date of instant `ts` (a UTC `TIMESTAMP`) in the zone of unit `unit` (an id
 * expression; `_m_unit_zone` covers every unit a fact can point at).
 */
export const localDate = (ts: string, unit: string) =>
  `timezone((SELECT zone FROM _m_unit_zone WHERE unit_id = ${unit}), ${ts} AT TIME ZONE 'UTC')::DATE`;

/**
 * Whether instant `ts` (a UTC `TIMESTAMP`) is on or before the as-of date in the zone of unit
 * `unit`: before the unit's `cutoff`, the first instant of the next local day. The same as
 * `localDate(ts, unit) <= asOf`, with no zone arithmetic per row.
 */
export const byAsOf = (ts: string, unit: string) =>
  `${ts} < (SELECT cutoff FROM _m_unit_zone WHERE unit_id = ${unit})`;

/** `scope_id` of a result row as published (null for the tenant). */
export const publishedScopeId = (kind: string, id: string) => (kind === 'tenant' ? null : id);

/**
 * a ÷ b, unrounded; null when b is 0. Payloads carry exact ratios: rounding happens once,
 * where a figure is shown (dashboards/format.ts), never before.
 */
export function ratio(a: number, b: number): number | null {
  if (!b) return null;
  return a / b;
}

/** Groups result rows by (scope, period). */
export function byScope<T extends { scope_kind: string; scope_id: string; period: string }>(
  rows: T[],
): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const r of rows) {
    const key = scopeKey(r.scope_kind, publishedScopeId(r.scope_kind, r.scope_id), r.period);
    let list = map.get(key);
    if (!list) map.set(key, (list = []));
    list.push(r);
  }
  return map;
}

/**
 * A query grouped on raw (UUID) keys, with `scope_id` and the `ids` columns rendered as
 * text afterwards (grouping on the text would convert every input row).
 */
export const asText = (inner: string, ids: string[], order = '') =>
  `SELECT * REPLACE (${['scope_id', ...ids].map((c) => `${c}::VARCHAR AS ${c}`).join(', ')})
     FROM (${inner}) ${order}`;

/** SQL select-list prefix every grouped metric query starts with. */
export const SCOPE_COLS = `sw.scope_kind, sw.scope_id::VARCHAR AS scope_id, sw.period`;

/** The earliest date any window covers: older facts are never read. */
export const MIN_START = `(SELECT min(start_date) FROM _m_windows)`;

/**
 * Joins segment-summed facts (`alias.seg` = the segment's first day, see `_m_bounds`) to the
 * scope windows that contain them.
 */
export const segmentJoin = (alias: string, unitCol: string) =>
  `JOIN _m_scope_windows sw ON sw.unit_id = ${alias}.${unitCol}
    AND ${alias}.seg BETWEEN sw.start_date AND sw.end_date`;

/** Rows grouped by a key, in their original order. */
export function groupBy<T, K>(rows: readonly T[] | undefined, key: (row: T) => K): Map<K, T[]> {
  const map = new Map<K, T[]>();
  for (const r of rows ?? []) {
    const k = key(r);
    let list = map.get(k);
    if (!list) map.set(k, (list = []));
    list.push(r);
  }
  return map;
}
