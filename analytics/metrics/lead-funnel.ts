/**
 * Lead funnel (SPEC §7).
 *
 * - Stages: the tenant's non-terminal funnel stages by position (default inquiry →
 *   tour_scheduled → … → enrolled). Terminal stages (`lost`) are exits, not steps.
 * - Cohort: leads whose inquiry date (first touch, local date) falls in the window.
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
 *   first touch for the first stage. A lead that skipped k+1 has no entry time for it.
 * - Lost by stage: leads whose state is terminal, by the stage they were lost from (no
 *   history: the highest stage they reached).
 */
import { MetricContext, SCOPE_COLS, byScope, groupBy, ratio, scopeKey } from './context.js';
import type { FunnelBreakdown, LeadFunnelPayload, MetricSnapshot } from './types.js';

interface Keyed {
  scope_kind: string;
  scope_id: string;
  period: string;
}

export async function leadFunnelSnapshots(
  ctx: MetricContext,
): Promise<MetricSnapshot<'lead_funnel'>[]> {
  const asOf = ctx.asOfSql;
  await ctx.temp(
    '_m_stages',
    `SELECT key, (row_number() OVER (ORDER BY position, key) - 1)::INTEGER AS idx
       FROM funnel_stages WHERE NOT is_terminal`,
  );
  const stages = await ctx.rows<{ key: string; idx: number }>(
    `SELECT key, idx FROM _m_stages ORDER BY idx`,
  );
  const terminal = `(SELECT key FROM funnel_stages WHERE is_terminal UNION SELECT 'lost')`;
  await ctx.temp(
    '_m_leads',
    `WITH hist AS (
       SELECT h.*, row_number() OVER (PARTITION BY lead_id ORDER BY changed_at DESC, id DESC) AS recent
         FROM lead_stage_history h WHERE changed_at::DATE <= ${asOf}),
     future AS (SELECT DISTINCT lead_id FROM lead_stage_history WHERE changed_at::DATE > ${asOf}),
     l AS (
       SELECT l.id, coalesce(l.school_id, '00000000-0000-0000-0000-000000000000'::UUID) AS unit,
              coalesce(nullif(l.source, ''), 'unknown') AS source, l.first_touch_at,
              l.first_touch_at::DATE AS inquiry_date, l.is_converted,
              CASE WHEN f.lead_id IS NULL THEN l.stage
                   ELSE coalesce(h.to_stage, (SELECT key FROM _m_stages WHERE idx = 0)) END AS state
         FROM leads l
         LEFT JOIN future f ON f.lead_id = l.id
         LEFT JOIN hist h ON h.lead_id = l.id AND h.recent = 1
        WHERE l.first_touch_at::DATE <= ${asOf}),
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
        WHERE h.to_stage IN ${terminal} GROUP BY h.lead_id)
     SELECT l.*, r.max_idx, l.state IN ${terminal} AS is_lost,
            CASE WHEN l.state IN ${terminal} THEN coalesce(lf.idx, r.max_idx) END AS lost_idx
       FROM l JOIN reached r ON r.lead_id = l.id LEFT JOIN lost_from lf ON lf.lead_id = l.id`,
  );
  await ctx.temp(
    '_m_lead_windows',
    `SELECT ${SCOPE_COLS}, l.*
       FROM _m_leads l
       JOIN _m_scope_windows sw ON sw.unit_id = l.unit
        AND l.inquiry_date BETWEEN sw.start_date AND sw.end_date`,
  );

  type ReachedRow = Keyed & { idx: number; reached: number; lost: number };
  const reachedSql = (group: string) => `
    SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''}, s.idx,
           count(*) FILTER (l.max_idx >= s.idx)::INTEGER AS reached,
           count(*) FILTER (l.lost_idx = s.idx)::INTEGER AS lost
      FROM _m_lead_windows l CROSS JOIN _m_stages s
     GROUP BY ALL ORDER BY s.idx`;
  const totals = byScope(
    await ctx.rows<Keyed & { leads: number; lost: number; converted: number }>(
      `SELECT scope_kind, scope_id, period, count(*)::INTEGER AS leads,
              count(*) FILTER (is_lost)::INTEGER AS lost,
              count(*) FILTER (is_converted)::INTEGER AS converted
         FROM _m_lead_windows GROUP BY ALL`,
    ),
  );
  const reached = byScope(await ctx.rows<ReachedRow>(reachedSql('')));
  const bySource = byScope(await ctx.rows<ReachedRow & { source: string }>(reachedSql('source')));
  const byWeek = byScope(
    await ctx.rows<ReachedRow & { week_start: string }>(
      reachedSql(`date_trunc('week', inquiry_date)::DATE::VARCHAR AS week_start`),
    ),
  );
  const leadsBySource = byScope(
    await ctx.rows<Keyed & { source: string; leads: number }>(
      `SELECT scope_kind, scope_id, period, source, count(*)::INTEGER AS leads
         FROM _m_lead_windows GROUP BY ALL`,
    ),
  );
  const leadsByWeek = byScope(
    await ctx.rows<Keyed & { week_start: string; leads: number }>(
      `SELECT scope_kind, scope_id, period,
              date_trunc('week', inquiry_date)::DATE::VARCHAR AS week_start,
              count(*)::INTEGER AS leads
         FROM _m_lead_windows GROUP BY ALL`,
    ),
  );
  // Entry time of each stage per lead: first move into it; first touch for stage 0.
  const medians = byScope(
    await ctx.rows<Keyed & { idx: number; median_days: number | null }>(
      `WITH entries AS (
         SELECT lead_id, idx, min(entered) AS entered FROM (
           SELECT h.lead_id, s.idx, h.changed_at AS entered
             FROM lead_stage_history h JOIN _m_stages s ON s.key = h.to_stage
            WHERE h.changed_at::DATE <= ${asOf}
           UNION ALL
           SELECT id, 0, first_touch_at FROM _m_leads)
         GROUP BY ALL)
       SELECT lw.scope_kind, lw.scope_id, lw.period, e2.idx,
              round(median(epoch(e2.entered - e1.entered) / 86400.0), 1)::DOUBLE AS median_days
         FROM _m_lead_windows lw
         JOIN entries e1 ON e1.lead_id = lw.id
         JOIN entries e2 ON e2.lead_id = lw.id AND e2.idx = e1.idx + 1 AND e2.entered >= e1.entered
        GROUP BY ALL`,
    ),
  );

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
