/**
 * Lead funnel (docs/metrics.md#lead-funnel).
 *
 * - Stages: the tenant's non-terminal funnel stages by position (default inquiry →
 *   tour_scheduled → … → enrolled). Terminal stages (`lost`) are exits, not steps.
 * - Cohort: leads whose inquiry date (first touch, local date in the school's zone — the
 *   tenant's for a lead with no school) falls in the window; weeks of inquiry are of that
 *   date too, and a stage move counts by its local date the same way.
 * - A lead's state as of the date: its current stage, unless its stage history has moves
 *   after the as-of date, in which case the target of its last move on or before it.
 * - Reached: a lead reached the highest stage among its state, every from/to stage of its
 *   history up to the as-of date, and the first stage (every lead starts there). Reaching
 *   stage k counts for every earlier stage — so a lead that skipped stages counts for
 *   them, and a lost lead counts for the stage it was lost from (the `from_stage` of its
 *   move to lost) and every stage before.
 * - Conversion: reached(k+1) ÷ reached(k); inquiry → enrolled: reached(last) ÷ reached(first).
 * - Median days between consecutive stages k → k+1: over leads with an entry time for both
 *   (entering k+1 no earlier than k), entry = first history move into the stage, and the
 *   first touch for the first stage. A lead that skipped k+1 has no entry time for it. Days
 *   are elapsed time between the two instants ÷ 24 h: a daylight-saving change in between
 *   shifts nothing.
 * - Converted to students: leads of the cohort converted into a student record by the as-of
 *   date (the local date of `converted_at` in the school's zone).
 * - Lost by stage: leads whose state is terminal, by the stage they were lost from (no
 *   history: the highest stage they reached).
 *
 * How: one fact row per lead (`fn_leads`: school, source, inquiry date, reached and lost
 * stage) and per stage entry gap (`fn_gaps`: days from entering stage k−1 to entering k), and
 * every count a sum of lead facts per scope, period, breakdown and stage (`fn_funnel`;
 * `sums.ts`). An incremental run recomputes the facts of the leads whose rows or stage
 * history changed and moves the sums by the difference; medians are taken from the kept gaps.
 */

import {
  MetricContext,
  type BaseMode,
  byAsOf,
  byScope,
  groupBy,
  localDate,
  ratio,
  scopeKey,
} from './context.js';
import { mergeSums, replaceFacts } from './sums.js';
import type { FunnelBreakdown, LeadFunnelPayload, MetricSnapshot } from './types.js';

interface Keyed {
  scope_kind: string;
  scope_id: string;
  period: string;
}

/** Changed rows of these tables are patched into the kept funnel facts and sums. */
export const FUNNEL_PATCHABLE = ['leads', 'lead_stage_history'] as const;

const TERMINAL = `(SELECT key FROM funnel_stages WHERE is_terminal UNION SELECT 'lost')`;

/** The non-terminal stages in order (`_m_stages`: key, idx). */
async function stagesOf(ctx: MetricContext): Promise<{ key: string; idx: number }[]> {
  await ctx.temp(
    '_m_stages',
    `SELECT key, (row_number() OVER (ORDER BY position, key) - 1)::INTEGER AS idx
       FROM funnel_stages WHERE NOT is_terminal`,
  );
  return ctx.rows<{ key: string; idx: number }>(`SELECT key, idx FROM _m_stages ORDER BY idx`);
}

/** Restricts a lead-keyed query to the leads in temporary table `ids` (column `id`). */
const onlyLeads = (column: string, ids?: string) =>
  ids ? `AND ${column} IN (SELECT id FROM ${ids})` : '';

/** A lead's unit: its school, else "no school". */
const LEAD_UNIT = `coalesce(l.school_id, '00000000-0000-0000-0000-000000000000'::UUID)`;

/**
 * Stage history (of the leads in `ids`, if given) with each move's local date in its lead's
 * school's zone; `when` filters on it (`day`).
 */
const datedHistory = (when: string, ids?: string) =>
  `SELECT * FROM (
     SELECT h.*, ${localDate('h.changed_at', LEAD_UNIT)} AS day
       FROM lead_stage_history h JOIN leads l ON l.id = h.lead_id
      WHERE true ${onlyLeads('h.lead_id', ids)})
    WHERE ${when}`;

/** Stage history up to the as-of date (of the leads in `ids`, if given). */
const historySql = (asOf: string, ids?: string) => datedHistory(`day <= ${asOf}`, ids);

/** Each lead inquiring by the as-of date: its school, source, state then, reached and lost stage. */
function leadFacts(asOf: string, ids?: string): string {
  return `WITH hist AS (
       SELECT h.*, row_number() OVER (PARTITION BY lead_id ORDER BY changed_at DESC, id DESC) AS recent
         FROM (${historySql(asOf, ids)}) h),
     future AS (SELECT DISTINCT lead_id FROM (${datedHistory(`day > ${asOf}`, ids)})),
     dated AS (
       SELECT l.*, ${LEAD_UNIT} AS unit, ${localDate('l.first_touch_at', LEAD_UNIT)} AS inquiry_date
         FROM leads l WHERE true ${onlyLeads('l.id', ids)}),
     l AS (
       SELECT l.id, l.unit,
              coalesce(nullif(l.source, ''), 'unknown') AS source, l.first_touch_at,
              l.inquiry_date,
              coalesce(${byAsOf('l.converted_at', 'l.unit')}, false) AS is_converted,
              CASE WHEN f.lead_id IS NULL THEN l.stage
                   ELSE coalesce(h.to_stage, (SELECT key FROM _m_stages WHERE idx = 0)) END AS state
         FROM dated l
         LEFT JOIN future f ON f.lead_id = l.id
         LEFT JOIN hist h ON h.lead_id = l.id AND h.recent = 1
        WHERE l.inquiry_date <= ${asOf}),
     reached AS (
       SELECT lead_id, max(idx) AS max_idx FROM (
         SELECT id AS lead_id, 0 AS idx FROM l
         UNION ALL SELECT h.lead_id, s.idx FROM hist h JOIN _m_stages s ON s.key = h.from_stage
         UNION ALL SELECT h.lead_id, s.idx FROM hist h JOIN _m_stages s ON s.key = h.to_stage
         UNION ALL SELECT l.id, s.idx FROM l JOIN _m_stages s ON s.key = l.state)
       GROUP BY lead_id),
     lost_from AS (
       SELECT h.lead_id, arg_max(s.idx, h.changed_at) AS idx
         FROM hist h JOIN _m_stages s ON s.key = h.from_stage
        WHERE h.to_stage IN ${TERMINAL} GROUP BY h.lead_id)
     SELECT l.*, r.max_idx, l.state IN ${TERMINAL} AS is_lost,
            CASE WHEN l.state IN ${TERMINAL} THEN coalesce(lf.idx, r.max_idx) END AS lost_idx
       FROM l JOIN reached r ON r.lead_id = l.id LEFT JOIN lost_from lf ON lf.lead_id = l.id`;
}

/**
 * Days from entering stage k−1 to entering stage k, per lead of `leads` (the lead facts)
 * with both entries, the later no earlier: entry = first history move into the stage, the
 * first touch for the first stage.
 */
function gapFacts(asOf: string, leads: string, ids?: string): string {
  return `WITH entries AS (
       SELECT lead_id, idx, min(entered) AS entered FROM (
         SELECT h.lead_id, s.idx, h.changed_at AS entered
           FROM (${historySql(asOf, ids)}) h JOIN _m_stages s ON s.key = h.to_stage
         UNION ALL
         SELECT id, 0, first_touch_at FROM ${leads})
       WHERE lead_id IN (SELECT id FROM ${leads})
       GROUP BY ALL)
     SELECT e2.lead_id, e2.idx, epoch(e2.entered - e1.entered) / 86400.0 AS days
       FROM entries e1
       JOIN entries e2 ON e2.lead_id = e1.lead_id AND e2.idx = e1.idx + 1 AND e2.entered >= e1.entered`;
}

const FUNNEL_KEY = ['scope_kind', 'scope_id', 'period', 'kind', 'gkey', 'idx'];
const FUNNEL_SUMS = `sum(leads)::INTEGER AS leads, sum(reached)::INTEGER AS reached,
  sum(lost)::INTEGER AS lost, sum(converted)::INTEGER AS converted`;

/**
 * What lead facts `leads` add to the funnel sums, times `sign`: per scope window containing
 * the lead (school, inquiry date), for the whole window (`total`), its source and its
 * inquiry week (`kind`, `gkey`): a group row (`idx` −1: leads, lost leads, converted) and a
 * row per stage (leads, reached it or a later one, lost from it).
 */
function contributions(leads: string, sign: string): string {
  return `WITH lw AS (
       SELECT sw.scope_kind, sw.scope_id, sw.period, l.*
         FROM ${leads} l
         JOIN _m_scope_windows sw ON sw.unit_id = l.unit
          AND l.inquiry_date BETWEEN sw.start_date AND sw.end_date),
     grouped AS (
       SELECT *, 'total' AS kind, '' AS gkey FROM lw
       UNION ALL SELECT *, 'source', source FROM lw
       UNION ALL SELECT *, 'week', date_trunc('week', inquiry_date)::DATE::VARCHAR FROM lw)
     SELECT scope_kind, scope_id, period, kind, gkey, -1 AS idx, ${sign} AS leads, 0 AS reached,
            ${sign} * is_lost::INTEGER AS lost, ${sign} * is_converted::INTEGER AS converted
       FROM grouped
     UNION ALL
     SELECT g.scope_kind, g.scope_id, g.period, g.kind, g.gkey, s.idx, ${sign},
            ${sign} * (g.max_idx >= s.idx)::INTEGER, ${sign} * coalesce(g.lost_idx = s.idx, false)::INTEGER, 0
       FROM grouped g CROSS JOIN _m_stages s`;
}

/** The kept lead facts, gaps and funnel sums, from scratch. */
export async function funnelBase(ctx: MetricContext, mode: 'temp' | 'rebuild'): Promise<void> {
  await stagesOf(ctx);
  await ctx.createBase('fn_leads', mode, leadFacts(ctx.asOfSql));
  const leads = ctx.base('fn_leads', mode);
  await ctx.createBase('fn_gaps', mode, gapFacts(ctx.asOfSql, leads));
  await ctx.createBase(
    'fn_funnel',
    mode,
    `SELECT ${FUNNEL_KEY.join(', ')}, ${FUNNEL_SUMS} FROM (${contributions(leads, '1')})
      GROUP BY ${FUNNEL_KEY.join(', ')}`,
  );
}

/**
 * Brings the kept funnel up to date with this run's changed leads and stage history: the
 * facts and gaps of every lead they name are recomputed, and the sums move by the new
 * facts' contributions minus the replaced ones'.
 */
export async function patchFunnelBase(
  ctx: MetricContext,
  changed: ReadonlySet<string>,
): Promise<void> {
  const parts = [
    ...(changed.has('leads') ? [`SELECT id FROM temp._delta_leads`] : []),
    ...(changed.has('lead_stage_history')
      ? [`SELECT lead_id AS id FROM temp._delta_lead_stage_history`]
      : []),
  ];
  if (parts.length === 0) return;
  await stagesOf(ctx);
  await ctx.temp('_m_fn_lead_ids', parts.join(' UNION '));
  const asOf = ctx.asOfSql;
  await replaceFacts(
    ctx,
    ctx.base('fn_leads', 'patch'),
    '_m_fn_lead_ids',
    leadFacts(asOf, '_m_fn_lead_ids'),
    '_m_fn_leads',
  );
  await replaceFacts(
    ctx,
    ctx.base('fn_gaps', 'patch'),
    '_m_fn_lead_ids',
    gapFacts(asOf, '_m_fn_leads_new', '_m_fn_lead_ids'),
    '_m_fn_gaps',
    'lead_id',
  );
  await ctx.temp(
    '_m_fn_changes',
    `SELECT ${FUNNEL_KEY.join(', ')}, ${FUNNEL_SUMS}
       FROM (SELECT * FROM (${contributions('_m_fn_leads_new', '1')})
             UNION ALL SELECT * FROM (${contributions('_m_fn_leads_old', '-1')}))
      GROUP BY ${FUNNEL_KEY.join(', ')}`,
  );
  await mergeSums(
    ctx,
    ctx.base('fn_funnel', 'patch'),
    FUNNEL_KEY,
    [],
    FUNNEL_SUMS,
    '_m_fn_changes',
    'leads',
  );
}

export async function leadFunnelSnapshots(
  ctx: MetricContext,
  mode: BaseMode = 'temp',
): Promise<MetricSnapshot<'lead_funnel'>[]> {
  if (mode === 'temp') await funnelBase(ctx, 'temp');
  const stages = await stagesOf(ctx);
  type Row = Keyed & {
    kind: string;
    gkey: string;
    idx: number;
    leads: number;
    reached: number;
    lost: number;
    converted: number;
  };
  const rows = await ctx.rows<Row>(
    `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period, kind, gkey, idx,
            leads, reached, lost, converted
       FROM ${ctx.base('fn_funnel', mode)}`,
  );
  const group = (kind: string, stage: boolean) =>
    byScope(rows.filter((r) => r.kind === kind && r.idx >= 0 === stage));
  const totals = group('total', false);
  const reached = group('total', true);
  const bySource = byScope(
    rows.filter((r) => r.kind === 'source' && r.idx >= 0).map((r) => ({ ...r, source: r.gkey })),
  );
  const leadsBySource = byScope(
    rows.filter((r) => r.kind === 'source' && r.idx < 0).map((r) => ({ ...r, source: r.gkey })),
  );
  const byWeek = byScope(
    rows.filter((r) => r.kind === 'week' && r.idx >= 0).map((r) => ({ ...r, week_start: r.gkey })),
  );
  const leadsByWeek = byScope(
    rows.filter((r) => r.kind === 'week' && r.idx < 0).map((r) => ({ ...r, week_start: r.gkey })),
  );
  const medians = byScope(
    await ctx.rows<Keyed & { idx: number; median_days: number | null }>(
      `SELECT sw.scope_kind, sw.scope_id::VARCHAR AS scope_id, sw.period, g.idx,
              median(g.days)::DOUBLE AS median_days
         FROM ${ctx.base('fn_gaps', mode)} g
         JOIN ${ctx.base('fn_leads', mode)} l ON l.id = g.lead_id
         JOIN _m_scope_windows sw ON sw.unit_id = l.unit
          AND l.inquiry_date BETWEEN sw.start_date AND sw.end_date
        GROUP BY ALL`,
    ),
  );
  type ReachedRow = { idx: number; reached: number; lost: number };

  const keys = stages.map((s) => s.key);
  const last = stages.length - 1;
  const breakdown = (rows: ReachedRow[] | undefined, leads: number): FunnelBreakdown => {
    const counts = keys.map(() => 0);
    for (const r of rows ?? []) counts[r.idx] = r.reached;
    return {
      reached: counts,
      leads,
      conversion_rate: last >= 0 ? ratio(counts[last] ?? 0, counts[0] ?? 0) : null,
    };
  };

  return ctx.scopes.map((s) => {
    const key = scopeKey(s.scopeKind, s.scopeId, s.period);
    const total = totals.get(key)?.[0];
    const stageRows = new Map((reached.get(key) ?? []).map((r) => [r.idx, r]));
    const medianRows = new Map((medians.get(key) ?? []).map((r) => [r.idx, r.median_days]));
    const stageList = stages.map((st) => {
      const reachedHere = stageRows.get(st.idx)?.reached ?? 0;
      const previous = st.idx > 0 ? (stageRows.get(st.idx - 1)?.reached ?? 0) : null;
      return {
        key: st.key,
        reached: reachedHere,
        conversion_from_previous: previous === null ? null : ratio(reachedHere, previous),
        median_days_from_previous: st.idx > 0 ? (medianRows.get(st.idx) ?? null) : null,
        lost: stageRows.get(st.idx)?.lost ?? 0,
      };
    });
    const sourceRows = groupBy(bySource.get(key), (r) => r.source);
    const weekRows = groupBy(byWeek.get(key), (r) => r.week_start);
    const payload: LeadFunnelPayload = {
      window: s.window,
      leads: total?.leads ?? 0,
      stage_keys: keys,
      stages: stageList,
      inquiry_to_enrolled: {
        from: keys[0] ?? 'inquiry',
        to: keys[last] ?? 'enrolled',
        rate: ratio(stageList[last]?.reached ?? 0, stageList[0]?.reached ?? 0),
      },
      lost: {
        total: total?.lost ?? 0,
        by_stage: stageList
          .filter((st) => st.lost > 0)
          .map((st) => ({ stage: st.key, count: st.lost })),
      },
      converted_to_student: total?.converted ?? 0,
      by_source: [...(leadsBySource.get(key) ?? [])]
        .sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
        .map((r) => ({ source: r.source, ...breakdown(sourceRows.get(r.source), r.leads) })),
      by_week: [...(leadsByWeek.get(key) ?? [])]
        .sort((a, b) => (a.week_start < b.week_start ? -1 : 1))
        .map((r) => ({
          week_start: r.week_start,
          ...breakdown(weekRows.get(r.week_start), r.leads),
        })),
    };
    return {
      metric: 'lead_funnel' as const,
      scopeKind: s.scopeKind,
      scopeId: s.scopeId,
      period: s.period,
      asOf: ctx.asOf,
      payload,
    };
  });
}
