/**
 * ESA (docs/metrics.md#esa).
 *
 * - Which applications: those dated (submitted, else created) on or before the as-of date;
 *   for `school_year`, those whose session overlaps the school-year window (an application
 *   is for a school year); for `term` and `last_30_days`, those dated in the window. So the
 *   two count different things even when their windows coincide (applications *for* the
 *   year, many submitted before it starts, against applications *dated* in the term): the
 *   dashboards label the school-year figure "Applications for the school year".
 * - School: the application's school, else the student's school.
 * - Status as of the date: a decision dated after the as-of date is still pending
 *   (reported as under_review).
 * - Approval rate = approved ÷ (approved + denied): pending, draft and withdrawn
 *   applications are not in it.
 * - Dates (application day, decision day) are local dates in the school's zone (the
 *   tenant's for an application with no school).
 * - Median days to decision: elapsed time from the submitted to the decided instant, in
 *   days of 24 h (unrounded), decided only; a daylight-saving change in between shifts
 *   nothing.
 * - Requested: amounts of applications that were submitted (not draft, not withdrawn);
 *   awarded: approved applications' awards; disbursed: disbursements with status
 *   `disbursed` on or before the as-of date (returned and cancelled ones are not).
 */
import {
  MetricContext,
  NO_UNIT,
  SCOPE_COLS,
  byScope,
  groupBy,
  localDate,
  ratio,
  scopeKey,
} from './context.js';
import { ESA_STATUSES, type EsaFigures, type EsaPayload, type MetricSnapshot } from './types.js';

interface FigureRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  status: string;
  applications: number;
  requested_cents: number;
  awarded_cents: number;
  disbursed_cents: number;
}

interface MedianRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  median_days: number | null;
}

function figures(rows: FigureRow[] | undefined, median: number | null): EsaFigures {
  const by_status = Object.fromEntries(ESA_STATUSES.map((s) => [s, 0])) as EsaFigures['by_status'];
  let applications = 0;
  let requested = 0;
  let awarded = 0;
  let disbursed = 0;
  for (const r of rows ?? []) {
    if (r.status in by_status) by_status[r.status as keyof typeof by_status] += r.applications;
    applications += r.applications;
    requested += r.requested_cents;
    awarded += r.awarded_cents;
    disbursed += r.disbursed_cents;
  }
  return {
    applications,
    by_status,
    approval_rate: ratio(by_status.approved, by_status.approved + by_status.denied),
    median_days_to_decision: median,
    requested_cents: requested,
    awarded_cents: awarded,
    disbursed_cents: disbursed,
  };
}

export async function esaSnapshots(ctx: MetricContext): Promise<MetricSnapshot<'esa'>[]> {
  const asOf = ctx.asOfSql;
  await ctx.temp(
    '_m_esa',
    `WITH paid AS (
       SELECT application_id, sum(amount_cents) AS cents FROM esa_disbursements
        WHERE status = 'disbursed' AND disbursed_on <= ${asOf} GROUP BY ALL),
     apps AS (
       SELECT a.*, coalesce(a.school_id, st.school_id, '${NO_UNIT}'::UUID) AS unit
         FROM esa_applications a LEFT JOIN students st ON st.id = a.student_id),
     dated AS (
       SELECT a.*, ${localDate('coalesce(a.submitted_at, a.created_at)', 'a.unit')} AS app_date,
              ${localDate('a.decided_at', 'a.unit')} AS decided_on
         FROM apps a)
     SELECT a.id, a.program_id, p.state, a.unit, a.app_date,
            se.start_date AS session_start, se.end_date AS session_end,
            CASE WHEN a.status IN ('approved', 'denied') AND a.decided_on > ${asOf}
                 THEN 'under_review' ELSE a.status END AS status,
            a.submitted_at, a.decided_at, a.amount_requested_cents, a.amount_awarded_cents,
            coalesce(paid.cents, 0) AS disbursed_cents
       FROM dated a
       LEFT JOIN esa_programs p ON p.id = a.program_id
       LEFT JOIN academic_sessions se ON se.id = a.session_id
       LEFT JOIN paid ON paid.application_id = a.id
      WHERE a.app_date <= ${asOf}`,
  );
  await ctx.temp(
    '_m_esa_windows',
    `SELECT ${SCOPE_COLS}, e.*
       FROM _m_esa e
       JOIN _m_scope_windows sw ON sw.unit_id = e.unit
        AND CASE WHEN sw.period = 'school_year' AND e.session_start IS NOT NULL
                 THEN e.session_start <= sw.end_date AND e.session_end >= sw.start_date
                 ELSE e.app_date BETWEEN sw.start_date AND sw.end_date END`,
  );
  const figureSql = (group: string) => `
    SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''}, status,
           count(*)::INTEGER AS applications,
           coalesce(sum(amount_requested_cents) FILTER (status NOT IN ('draft', 'withdrawn')), 0)::DOUBLE
             AS requested_cents,
           coalesce(sum(amount_awarded_cents) FILTER (status = 'approved'), 0)::DOUBLE AS awarded_cents,
           coalesce(sum(disbursed_cents), 0)::DOUBLE AS disbursed_cents
      FROM _m_esa_windows GROUP BY ALL`;
  const medianSql = (group: string) => `
    SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''},
           median(epoch(decided_at - submitted_at) / 86400.0)::DOUBLE AS median_days
      FROM _m_esa_windows
     WHERE status IN ('approved', 'denied') AND submitted_at IS NOT NULL
     GROUP BY ALL`;

  const total = byScope(await ctx.rows<FigureRow>(figureSql('')));
  const totalMedian = byScope(await ctx.rows<MedianRow>(medianSql('')));
  const program = byScope(
    await ctx.rows<FigureRow & { program_id: string; state: string | null }>(
      figureSql('program_id::VARCHAR AS program_id, state'),
    ),
  );
  const programMedian = byScope(
    await ctx.rows<MedianRow & { program_id: string }>(
      medianSql('program_id::VARCHAR AS program_id'),
    ),
  );
  const school = byScope(
    await ctx.rows<FigureRow & { school_id: string }>(figureSql('unit::VARCHAR AS school_id')),
  );
  const schoolMedian = byScope(
    await ctx.rows<MedianRow & { school_id: string }>(medianSql('unit::VARCHAR AS school_id')),
  );

  return ctx.scopes.map((s) => {
    const key = scopeKey(s.scopeKind, s.scopeId, s.period);
    const programs = groupBy(program.get(key), (r) => r.program_id);
    const programMedians = new Map(
      (programMedian.get(key) ?? []).map((r) => [r.program_id, r.median_days]),
    );
    const schools = groupBy(school.get(key), (r) => r.school_id);
    const schoolMedians = new Map(
      (schoolMedian.get(key) ?? []).map((r) => [r.school_id, r.median_days]),
    );
    const payload: EsaPayload = {
      window: s.window,
      ...figures(total.get(key), totalMedian.get(key)?.[0]?.median_days ?? null),
      by_program: [...programs.keys()].sort().map((program_id) => ({
        program_id,
        state: programs.get(program_id)?.[0]?.state ?? null,
        ...figures(programs.get(program_id), programMedians.get(program_id) ?? null),
      })),
      by_school: [...schools.keys()].sort().map((id) => ({
        school_id: id === '00000000-0000-0000-0000-000000000000' ? null : id,
        ...figures(schools.get(id), schoolMedians.get(id) ?? null),
      })),
    };
    return {
      metric: 'esa' as const,
      scopeKind: s.scopeKind,
      scopeId: s.scopeId,
      period: s.period,
      asOf: ctx.asOf,
      payload,
    };
  });
}
