/**
 * The five pages, each for one scope: the tenant-wide view compares schools, a school view
 * drills into that school. Input is only the published metric payloads (ids, no names)
 * plus the school names handed in by the caller.
 */
import type {
  AnySnapshot,
  MetricName,
  MetricPayloads,
  MetricPeriod,
  MetricWindow,
} from '../analytics/metrics/types.js';
import { ESA_STATUSES } from '../analytics/metrics/types.js';
import type { Bar, ChartRenderer } from './charts.js';
import { dayLabel, fmt, monthLabel, words } from './format.js';
import {
  row,
  sectionHtml,
  type DashboardPage,
  type FigureSpec,
  type SectionSpec,
} from './layout.js';

/** The period every page shows; the overview adds the last 30 days of attendance. */
export const PAGE_PERIOD: MetricPeriod = 'school_year';

/**
 * The metrics each page reads: in its own scope, and on the tenant-wide view also in every
 * school's scope (comparisons). A page's figures change only when these snapshots do.
 */
export const PAGE_METRICS: Record<DashboardPage, readonly MetricName[]> = {
  overview: ['lead_funnel', 'attendance', 'grades', 'esa', 'finance'],
  admissions: ['lead_funnel'],
  attendance: ['attendance'],
  academics: ['grades'],
  finance: ['finance', 'esa'],
};

/** Published payloads by metric, scope and period. */
export class Figures {
  private readonly byKey = new Map<string, AnySnapshot>();
  constructor(snapshots: readonly AnySnapshot[]) {
    for (const s of snapshots) this.byKey.set(Figures.key(s.metric, s.scopeId, s.period), s);
  }
  private static key(metric: MetricName, scopeId: string | null, period: MetricPeriod) {
    return `${metric}|${scopeId ?? ''}|${period}`;
  }
  get<M extends MetricName>(
    metric: M,
    scopeId: string | null,
    period: MetricPeriod = PAGE_PERIOD,
  ): MetricPayloads[M] | null {
    const s = this.byKey.get(Figures.key(metric, scopeId, period));
    return s ? (s.payload as MetricPayloads[M]) : null;
  }
}

export interface PageContext {
  page: DashboardPage;
  figures: Figures;
  charts: ChartRenderer;
  /** Null for the tenant-wide view. */
  school: { id: string; name: string } | null;
  /** Schools with published figures, ordered by name. */
  schools: readonly { id: string; name: string }[];
  schoolName(id: string | null): string;
}

const notPublished = (what: string) => `No ${what} figures have been published for this scope yet.`;

export const windowLabel = (w: MetricWindow | undefined): string | null =>
  w ? `${WINDOW_NAMES[w.source]} ${w.start} to ${w.end}` : null;
const WINDOW_NAMES: Record<MetricWindow['source'], string> = {
  session: 'school year',
  fallback: 'period',
  trailing: 'last 30 days,',
};

/** Builds one page's body: its sections in order. */
export function pageBody(ctx: PageContext): string {
  const sections = BUILDERS[ctx.page](ctx);
  return sections.map(sectionHtml).join('\n');
}

/** The window shown in the page header: the page's main metric. */
export function pageWindow(ctx: Pick<PageContext, 'page' | 'figures' | 'school'>): string | null {
  const metric: MetricName = (
    {
      overview: 'attendance',
      admissions: 'lead_funnel',
      attendance: 'attendance',
      academics: 'grades',
      finance: 'finance',
    } as const
  )[ctx.page];
  return windowLabel(ctx.figures.get(metric, ctx.school?.id ?? null)?.window);
}

const scopeId = (ctx: PageContext) => ctx.school?.id ?? null;
const fid = (ctx: PageContext, name: string) => `${ctx.page}-${name}`;

function figure(
  ctx: PageContext,
  name: string,
  title: string,
  svg: (id: string) => string | null,
  table: { columns: string[]; rows: string[][] },
  extra: Partial<FigureSpec> = {},
): FigureSpec {
  const id = fid(ctx, name);
  return { id, title, svg: svg(id), table, ...extra };
}

// ---------------------------------------------------------------- overview

function overview(ctx: PageContext): SectionSpec[] {
  const id = scopeId(ctx);
  const att = ctx.figures.get('attendance', id);
  const recent = ctx.figures.get('attendance', id, 'last_30_days');
  const funnel = ctx.figures.get('lead_funnel', id);
  const grades = ctx.figures.get('grades', id);
  const finance = ctx.figures.get('finance', id);
  const esa = ctx.figures.get('esa', id);
  const tiles = [
    {
      label: 'Attendance (ADA)',
      value: fmt.percent(att?.ada_percent),
      note: `last 30 days ${fmt.percent(recent?.ada_percent)}`,
    },
    {
      label: 'Chronic absence',
      value: fmt.rate(att?.chronic_absence_rate),
      note: `${fmt.count(att?.chronically_absent)} of ${fmt.count(att?.chronic_eligible)} students`,
    },
    {
      label: 'Inquiry → enrolled',
      value: fmt.rate(funnel?.inquiry_to_enrolled.rate),
      note: `${fmt.count(funnel?.leads)} inquiries`,
    },
    {
      label: 'Students failing a class',
      value: fmt.rate(grades?.failing_rate),
      note: `${fmt.count(grades?.failing_students)} of ${fmt.count(grades?.students)} students with grades are below 60% in at least one class`,
    },
    {
      label: 'GPA',
      value: fmt.gpa(grades?.gpa),
      note: `${fmt.count(grades?.completed_enrollments)} final grades`,
    },
    {
      label: 'Collection rate',
      value: fmt.rate(finance?.collection_rate.rate),
      note: `of the period's invoices, paid by the data date: ${fmt.dollars(finance?.collection_rate.collected_cents)} of ${fmt.dollars(finance?.collection_rate.invoiced_cents)}`,
    },
    {
      label: 'Outstanding balance',
      value: fmt.dollars(finance?.outstanding.balance_cents),
      note: `${fmt.count(finance?.outstanding.open_invoices)} open invoices`,
    },
    {
      label: 'ESA approval rate',
      value: fmt.rate(esa?.approval_rate),
      note: `approved of ${fmt.count((esa?.by_status.approved ?? 0) + (esa?.by_status.denied ?? 0))} decided applications for the school year`,
    },
    {
      label: 'ESA share of payments',
      value: fmt.rate(finance?.esa_share.rate),
      note: `${fmt.dollars(finance?.esa_share.esa_cents)} of ${fmt.dollars(finance?.esa_share.total_cents)} received in the period`,
    },
  ];
  const sections: SectionSpec[] = [{ heading: 'Key figures', tiles }];

  if (ctx.school) {
    sections.push({
      heading: 'Recent attendance',
      ...(recent
        ? {
            figures: [
              dailyTrend(ctx, 'recent', 'Daily attendance rate, last 30 days', recent.daily),
            ],
          }
        : { missing: notPublished('attendance') }),
    });
    return sections;
  }

  const perSchool = ctx.schools.map((s) => ({
    s,
    att: ctx.figures.get('attendance', s.id),
    funnel: ctx.figures.get('lead_funnel', s.id),
    grades: ctx.figures.get('grades', s.id),
    finance: ctx.figures.get('finance', s.id),
  }));
  sections.push({
    heading: 'Schools compared',
    figures: [
      figure(
        ctx,
        'schools-ada',
        'Attendance rate (ADA) by school',
        (fig) =>
          ctx.charts.bars(
            fig,
            'Attendance rate (ADA) by school',
            perSchool.map((p) => ({ label: p.s.name, value: p.att?.ada_percent ?? null })),
            'percent',
          ),
        {
          columns: [
            'School',
            'ADA',
            'Chronic absence',
            'Inquiry → enrolled',
            'Students failing a class',
            'GPA',
            'Outstanding',
          ],
          rows: perSchool.map((p) =>
            row(
              p.s.name,
              fmt.percent(p.att?.ada_percent),
              fmt.rate(p.att?.chronic_absence_rate),
              fmt.rate(p.funnel?.inquiry_to_enrolled.rate),
              fmt.rate(p.grades?.failing_rate),
              fmt.gpa(p.grades?.gpa),
              fmt.dollars(p.finance?.outstanding.balance_cents),
            ),
          ),
        },
        { empty: 'No school has attendance figures yet.' },
      ),
    ],
  });
  return sections;
}

// ---------------------------------------------------------------- admissions

function admissions(ctx: PageContext): SectionSpec[] {
  const f = ctx.figures.get('lead_funnel', scopeId(ctx));
  if (!f) return [{ heading: 'Lead funnel', missing: notPublished('admissions') }];
  const figures: FigureSpec[] = [
    figure(
      ctx,
      'funnel',
      'Leads reaching each stage',
      (id) =>
        ctx.charts.bars(
          id,
          'Leads reaching each stage',
          f.stages.map((s) => ({ label: words(s.key), value: s.reached })),
          'count',
        ),
      {
        columns: ['Stage', 'Reached', 'From previous', 'Median days', 'Lost here'],
        rows: f.stages.map((s) =>
          row(
            words(s.key),
            fmt.count(s.reached),
            fmt.rate(s.conversion_from_previous),
            fmt.days(s.median_days_from_previous),
            fmt.count(s.lost),
          ),
        ),
      },
      { note: 'Cumulative: a lead at a later stage counts for every earlier one.' },
    ),
    figure(
      ctx,
      'by-source',
      'Conversion by first-touch source',
      (id) =>
        ctx.charts.bars(
          id,
          'Conversion by first-touch source',
          f.by_source.map((s) => ({ label: words(s.source), value: s.conversion_rate })),
          'rate',
        ),
      {
        columns: ['Source', 'Leads', 'Conversion'],
        rows: f.by_source.map((s) =>
          row(words(s.source), fmt.count(s.leads), fmt.rate(s.conversion_rate)),
        ),
      },
      { note: `${words(f.inquiry_to_enrolled.from)} → ${words(f.inquiry_to_enrolled.to)}` },
    ),
    figure(
      ctx,
      'weekly',
      'Inquiries by week',
      (id) =>
        ctx.charts.columns(
          id,
          'Inquiries by week',
          f.by_week.map((w) => ({ label: dayLabel(w.week_start), value: w.leads })),
          'count',
        ),
      {
        columns: ['Week of', 'Inquiries', 'Conversion'],
        rows: f.by_week.map((w) =>
          row(w.week_start, fmt.count(w.leads), fmt.rate(w.conversion_rate)),
        ),
      },
    ),
    figure(
      ctx,
      'lost',
      'Lost leads by stage',
      (id) =>
        ctx.charts.bars(
          id,
          'Lost leads by stage',
          f.lost.by_stage.map((l) => ({ label: words(l.stage), value: l.count })),
          'count',
        ),
      {
        columns: ['Stage', 'Lost'],
        rows: f.lost.by_stage.map((l) => row(words(l.stage), fmt.count(l.count))),
      },
      { empty: 'No leads were lost in this period.' },
    ),
  ];
  if (!ctx.school) {
    const per = ctx.schools.map((s) => ({ s, f: ctx.figures.get('lead_funnel', s.id) }));
    figures.push(
      figure(
        ctx,
        'schools',
        'Inquiry → enrolled by school',
        (id) =>
          ctx.charts.bars(
            id,
            'Inquiry → enrolled by school',
            per.map((p) => ({ label: p.s.name, value: p.f?.inquiry_to_enrolled.rate ?? null })),
            'rate',
          ),
        {
          columns: ['School', 'Inquiries', 'Student records created', 'Inquiry → enrolled'],
          rows: per.map((p) =>
            row(
              p.s.name,
              fmt.count(p.f?.leads),
              fmt.count(p.f?.converted_to_student),
              fmt.rate(p.f?.inquiry_to_enrolled.rate),
            ),
          ),
        },
      ),
    );
  }
  return [
    {
      heading: 'Lead funnel',
      tiles: [
        { label: 'Inquiries', value: fmt.count(f.leads) },
        {
          label: 'Inquiry → enrolled',
          value: fmt.rate(f.inquiry_to_enrolled.rate),
          note: `${fmt.count(f.stages.at(-1)?.reached)} of ${fmt.count(f.stages[0]?.reached)} inquiries reached the last stage`,
        },
        {
          label: 'Student records created',
          value: fmt.count(f.converted_to_student),
          note: 'inquiries of the period turned into a student record; a lead can reach the last stage before its record is made',
        },
        { label: 'Lost', value: fmt.count(f.lost.total) },
      ],
      figures,
    },
  ];
}

// ---------------------------------------------------------------- attendance

function dailyTrend(
  ctx: PageContext,
  name: string,
  title: string,
  daily: MetricPayloads['attendance']['daily'],
): FigureSpec {
  return figure(
    ctx,
    name,
    title,
    (id) =>
      ctx.charts.trend(
        id,
        title,
        daily.map((d) => ({ date: d.date, value: d.rate_percent })),
        'percent',
      ),
    {
      columns: ['Date', 'Membership', 'Marked', 'Present', 'Absent', 'Unmarked', 'Rate'],
      rows: daily.map((d) =>
        row(
          d.date,
          fmt.count(d.membership),
          fmt.count(d.marked),
          fmt.count(d.present),
          fmt.count(d.absent),
          fmt.count(d.unmarked),
          fmt.percent(d.rate_percent),
        ),
      ),
    },
    {
      note: 'Present ÷ marked membership days. Unmarked days (no attendance taken) are not absences; they are under Completeness.',
      empty: 'No attendance was taken in this period.',
    },
  );
}

function attendance(ctx: PageContext): SectionSpec[] {
  const a = ctx.figures.get('attendance', scopeId(ctx));
  if (!a) return [{ heading: 'Attendance', missing: notPublished('attendance') }];
  const figures: FigureSpec[] = [
    dailyTrend(ctx, 'daily', 'Daily attendance rate', a.daily),
    figure(
      ctx,
      'by-grade',
      'Attendance rate by grade',
      (id) =>
        ctx.charts.bars(
          id,
          'Attendance rate by grade',
          byGrade(a.by_grade).map((g) => ({
            label: gradeLabel(g.grade_level),
            value: g.ada_percent,
          })),
          'percent',
        ),
      {
        columns: ['Grade', 'Students', 'ADA', 'Days marked', 'Chronic absence'],
        rows: byGrade(a.by_grade).map((g) =>
          row(
            gradeLabel(g.grade_level),
            fmt.count(g.students),
            fmt.percent(g.ada_percent),
            fmt.percent(g.completeness_percent),
            fmt.rate(g.chronic_absence_rate),
          ),
        ),
      },
    ),
  ];
  const bySchool = ordered(ctx, a.by_school);
  if (!ctx.school) {
    figures.push(
      figure(
        ctx,
        'by-school',
        'Attendance rate by school',
        (id) =>
          ctx.charts.bars(
            id,
            'Attendance rate by school',
            bySchool.map((s) => ({ label: s.name, value: s.row.ada_percent })),
            'percent',
          ),
        {
          columns: ['School', 'Students', 'ADA', 'Days marked', 'Chronic absence'],
          rows: bySchool.map((s) =>
            row(
              s.name,
              fmt.count(s.row.students),
              fmt.percent(s.row.ada_percent),
              fmt.percent(s.row.completeness_percent),
              fmt.rate(s.row.chronic_absence_rate),
            ),
          ),
        },
      ),
      figure(
        ctx,
        'chronic-by-school',
        'Chronic absence by school',
        (id) =>
          ctx.charts.bars(
            id,
            'Chronic absence by school',
            bySchool.map((s) => ({ label: s.name, value: s.row.chronic_absence_rate })),
            'rate',
          ),
        {
          columns: ['School', 'Eligible', 'Chronically absent', 'Rate'],
          rows: bySchool.map((s) =>
            row(
              s.name,
              fmt.count(s.row.chronic_eligible),
              fmt.count(s.row.chronically_absent),
              fmt.rate(s.row.chronic_absence_rate),
            ),
          ),
        },
      ),
    );
  }
  const c = a.completeness;
  const completeness = figure(
    ctx,
    'completeness',
    'School days without attendance taken',
    (id) =>
      ctx.charts.bars(
        id,
        'School days without attendance taken',
        bySchool.map((s) => ({ label: s.name, value: s.row.days_without_attendance })),
        'count',
      ),
    {
      columns: [
        'School',
        'Instructional days',
        'Days without attendance',
        'Unmarked membership days',
      ],
      rows: bySchool.map((s) =>
        row(
          s.name,
          fmt.count(s.row.instructional_days),
          fmt.count(s.row.days_without_attendance),
          fmt.count(s.row.unmarked_days),
        ),
      ),
    },
    {
      ...(c.missing.length
        ? {
            note: `Most recent: ${[...new Set(c.missing.map((m) => m.date))].slice(-3).join(', ')}`,
          }
        : {}),
      empty: 'Attendance was taken on every school day.',
    },
  );
  return [
    {
      heading: 'Attendance',
      tiles: [
        {
          label: 'Attendance (ADA)',
          value: fmt.percent(a.ada_percent),
          note: `${fmt.count(a.present_days)} present of ${fmt.count(a.marked_days)} marked days`,
        },
        {
          label: 'Membership days marked',
          value: fmt.percent(a.completeness_percent),
          note: `${fmt.count(a.marked_days)} of ${fmt.count(a.membership_days)} days; unmarked days are not absences`,
        },
        {
          label: 'Chronic absence',
          value: fmt.rate(a.chronic_absence_rate),
          note: `${fmt.count(a.chronically_absent)} of ${fmt.count(a.chronic_eligible)} students`,
        },
        { label: 'Students', value: fmt.count(a.students) },
      ],
      figures,
    },
    {
      heading: 'Completeness',
      tiles: [
        {
          label: 'Days without attendance',
          value: fmt.count(c.days_without_attendance),
          note: `of ${fmt.count(c.instructional_days)} school days`,
        },
      ],
      figures: [completeness],
    },
  ];
}

/** Grades in school order: PK, K, 1 … 12, then anything else by name. */
function byGrade<T extends { grade_level: string }>(rows: readonly T[]): T[] {
  const rank = (g: string) =>
    g === 'PK' ? -2 : g === 'K' ? -1 : /^\d+$/.test(g) ? Number(g) : 100;
  return [...rows].sort(
    (a, b) =>
      rank(a.grade_level) - rank(b.grade_level) || a.grade_level.localeCompare(b.grade_level),
  );
}

const gradeLabel = (g: string) => (/^\d+$/.test(g) ? `Grade ${g}` : g === 'K' ? 'Kindergarten' : g);

/** Rows keyed by school id, as schools by name (unnamed ones last, by id). */
function ordered<T extends { school_id: string | null }>(ctx: PageContext, rows: readonly T[]) {
  return rows
    .map((r) => ({ row: r, name: ctx.schoolName(r.school_id) }))
    .sort(
      (a, b) =>
        a.name.localeCompare(b.name, 'en') ||
        (a.row.school_id ?? '').localeCompare(b.row.school_id ?? ''),
    );
}

// ---------------------------------------------------------------- academics

function academics(ctx: PageContext): SectionSpec[] {
  const g = ctx.figures.get('grades', scopeId(ctx));
  if (!g) return [{ heading: 'Academics', missing: notPublished('grades') }];
  const total = g.letters.reduce((n, l) => n + l.count, 0);
  // The tenant view compares schools; a school view compares its subjects.
  const groups: {
    label: string;
    f:
      | MetricPayloads['grades']['by_subject'][number]
      | MetricPayloads['grades']['by_school'][number];
  }[] = ctx.school
    ? g.by_subject.map((s) => ({ label: words(s.subject), f: s }))
    : ordered(ctx, g.by_school).map((s) => ({ label: s.name, f: s.row }));
  const by = ctx.school ? 'subject' : 'school';
  const groupBars = (pick: (f: (typeof groups)[number]['f']) => number | null): Bar[] =>
    groups.map((x) => ({ label: x.label, value: pick(x.f) }));
  const groupColumn = ctx.school ? 'Subject' : 'School';
  return [
    {
      heading: 'Academics',
      tiles: [
        {
          label: 'Average grade',
          value: fmt.percent(g.average_percent),
          note: `${fmt.count(g.student_classes)} class grades`,
        },
        {
          label: 'Students failing a class',
          value: fmt.rate(g.failing_rate),
          note: `${fmt.count(g.failing_students)} of ${fmt.count(g.students)} students with grades are below 60% in at least one class`,
        },
        {
          label: 'Missing assignments',
          value: fmt.rate(g.missing_rate),
          note: `${fmt.count(g.missing_scores)} of ${fmt.count(g.scores_due)} due`,
        },
        {
          label: 'GPA',
          value: fmt.gpa(g.gpa),
          note: `${fmt.count(g.credits_attempted)} credits attempted`,
        },
      ],
      figures: [
        figure(
          ctx,
          'letters',
          'Grade distribution',
          (id) =>
            ctx.charts.columns(
              id,
              'Grade distribution',
              g.letters.map((l) => ({ label: l.letter, value: l.count })),
              'count',
            ),
          {
            columns: ['Letter', 'From', 'Class grades', 'Share'],
            rows: g.letters.map((l) =>
              row(
                l.letter,
                `${l.min_percent}%`,
                fmt.count(l.count),
                fmt.rate(total > 0 ? l.count / total : null),
              ),
            ),
          },
          { empty: 'No class grades yet.' },
        ),
        figure(
          ctx,
          'failing',
          `Students failing a class, by ${by}`,
          (id) =>
            ctx.charts.bars(
              id,
              `Students failing a class, by ${by}`,
              groupBars((f) => f.failing_rate),
              'rate',
            ),
          {
            columns: [groupColumn, 'Students with grades', 'Failing a class', 'Share failing'],
            rows: groups.map((x) =>
              row(
                x.label,
                fmt.count(x.f.students),
                fmt.count(x.f.failing_students),
                fmt.rate(x.f.failing_rate),
              ),
            ),
          },
        ),
        figure(
          ctx,
          'missing',
          `Missing-assignment rate by ${by}`,
          (id) =>
            ctx.charts.bars(
              id,
              `Missing-assignment rate by ${by}`,
              groupBars((f) => f.missing_rate),
              'rate',
            ),
          {
            columns: [groupColumn, 'Scores due', 'Missing', 'Missing rate'],
            rows: groups.map((x) =>
              row(
                x.label,
                fmt.count(x.f.scores_due),
                fmt.count(x.f.missing_scores),
                fmt.rate(x.f.missing_rate),
              ),
            ),
          },
        ),
        figure(
          ctx,
          'gpa',
          `GPA by ${by}`,
          (id) =>
            ctx.charts.bars(
              id,
              `GPA by ${by}`,
              groupBars((f) => f.gpa),
              'gpa',
            ),
          {
            columns: [groupColumn, 'Final grades', 'Credits attempted', 'GPA', 'Average grade'],
            rows: groups.map((x) =>
              row(
                x.label,
                fmt.count(x.f.completed_enrollments),
                fmt.count(x.f.credits_attempted),
                fmt.gpa(x.f.gpa),
                fmt.percent(x.f.average_percent),
              ),
            ),
          },
          { empty: 'No final grades yet.' },
        ),
      ],
    },
  ];
}

// ---------------------------------------------------------------- finance & ESA

function finance(ctx: PageContext): SectionSpec[] {
  const f = ctx.figures.get('finance', scopeId(ctx));
  const e = ctx.figures.get('esa', scopeId(ctx));
  const sections: SectionSpec[] = [];
  if (!f) sections.push({ heading: 'Tuition and payments', missing: notPublished('finance') });
  else {
    const series = ['Invoiced', 'Collected (applied to invoices)'];
    const figures: FigureSpec[] = [
      figure(
        ctx,
        'monthly',
        'Invoiced and collected by month',
        (id) =>
          ctx.charts.grouped(
            id,
            'Invoiced and collected by month',
            f.months.flatMap((m) => [
              { x: monthLabel(m.month).slice(0, 3), series: 'Invoiced', value: m.invoiced_cents },
              { x: monthLabel(m.month).slice(0, 3), series: series[1]!, value: m.collected_cents },
            ]),
            series,
            'dollars',
          ),
        {
          columns: ['Month', 'Invoiced', 'Collected (applied to invoices)', 'Payments received'],
          rows: f.months.map((m) =>
            row(
              monthLabel(m.month),
              fmt.dollars(m.invoiced_cents),
              fmt.dollars(m.collected_cents),
              fmt.dollars(m.payments_cents),
            ),
          ),
        },
        { legend: series },
      ),
      figure(
        ctx,
        'aging',
        'Receivables by days past due',
        (id) =>
          ctx.charts.columns(
            id,
            'Receivables by days past due',
            f.ar_aging.map((b) => ({ label: agingLabel(b.bucket), value: b.balance_cents })),
            'dollars',
          ),
        {
          columns: ['Past due', 'Open invoices', 'Balance'],
          rows: f.ar_aging.map((b) =>
            row(agingLabel(b.bucket), fmt.count(b.invoices), fmt.dollars(b.balance_cents)),
          ),
        },
        { note: 'As of the data date.' },
      ),
    ];
    if (!ctx.school) {
      const rows = ordered(ctx, f.by_school);
      figures.push(
        figure(
          ctx,
          'by-school',
          'Outstanding balance by school',
          (id) =>
            ctx.charts.bars(
              id,
              'Outstanding balance by school',
              rows.map((s) => ({ label: s.name, value: s.row.outstanding_cents })),
              'dollars',
            ),
          {
            columns: [
              'School',
              'Invoiced',
              'Collected (applied to invoices)',
              'Open invoices',
              'Outstanding',
            ],
            rows: rows.map((s) =>
              row(
                s.name,
                fmt.dollars(s.row.invoiced_cents),
                fmt.dollars(s.row.collected_cents),
                fmt.count(s.row.open_invoices),
                fmt.dollars(s.row.outstanding_cents),
              ),
            ),
          },
        ),
      );
    }
    sections.push({
      heading: 'Tuition and payments',
      tiles: [
        { label: 'Invoiced', value: fmt.dollars(f.invoiced_cents), note: 'issued in the period' },
        {
          label: 'Collected (applied to invoices)',
          value: fmt.dollars(f.collected_cents),
          note: 'payments applied to any invoice, by date received in the period',
        },
        {
          label: 'Collection rate',
          value: fmt.rate(f.collection_rate.rate),
          note: `of the period's invoices, paid by the data date: ${fmt.dollars(f.collection_rate.collected_cents)} of ${fmt.dollars(f.collection_rate.invoiced_cents)}`,
        },
        {
          label: 'Outstanding balance',
          value: fmt.dollars(f.outstanding.balance_cents),
          note: `${fmt.count(f.outstanding.open_invoices)} open invoices`,
        },
        {
          label: 'ESA share of payments',
          value: fmt.rate(f.esa_share.rate),
          note: `${fmt.dollars(f.esa_share.esa_cents)} of ${fmt.dollars(f.esa_share.total_cents)}`,
        },
      ],
      figures,
    });
  }
  if (!e) sections.push({ heading: 'ESA', missing: notPublished('ESA') });
  else {
    const amounts = [
      { label: 'Requested', value: e.requested_cents },
      { label: 'Awarded', value: e.awarded_cents },
      { label: 'Disbursed', value: e.disbursed_cents },
    ];
    sections.push({
      heading: 'ESA',
      tiles: [
        {
          label: 'Applications for the school year',
          value: fmt.count(e.applications),
          note: 'for a school year that overlaps this one (term and 30-day figures count applications by their date)',
        },
        { label: 'Approval rate', value: fmt.rate(e.approval_rate) },
        { label: 'Median days to decision', value: fmt.days(e.median_days_to_decision) },
      ],
      figures: [
        figure(
          ctx,
          'esa-status',
          'ESA applications by status',
          (id) =>
            ctx.charts.bars(
              id,
              'ESA applications by status',
              ESA_STATUSES.map((s) => ({ label: words(s), value: e.by_status[s] })),
              'count',
            ),
          {
            columns: ['Status', 'Applications'],
            rows: ESA_STATUSES.map((s) => row(words(s), fmt.count(e.by_status[s]))),
          },
        ),
        figure(
          ctx,
          'esa-amounts',
          'ESA amounts',
          (id) => ctx.charts.bars(id, 'ESA amounts', amounts, 'dollars'),
          {
            columns: ['Amount', 'Total'],
            rows: amounts.map((a) => row(a.label, fmt.dollars(a.value))),
          },
        ),
        ...(ctx.school ? [] : [esaBySchool(ctx, e)]),
      ],
    });
  }
  return sections;
}

function esaBySchool(ctx: PageContext, e: MetricPayloads['esa']): FigureSpec {
  const rows = ordered(ctx, e.by_school);
  return figure(
    ctx,
    'esa-by-school',
    'ESA approval rate by school',
    (id) =>
      ctx.charts.bars(
        id,
        'ESA approval rate by school',
        rows.map((s) => ({ label: s.name, value: s.row.approval_rate })),
        'rate',
      ),
    {
      columns: ['School', 'Applications', 'Approved', 'Denied', 'Approval rate', 'Awarded'],
      rows: rows.map((s) =>
        row(
          s.name,
          fmt.count(s.row.applications),
          fmt.count(s.row.by_status.approved),
          fmt.count(s.row.by_status.denied),
          fmt.rate(s.row.approval_rate),
          fmt.dollars(s.row.awarded_cents),
        ),
      ),
    },
    { empty: 'No ESA applications have been decided yet.' },
  );
}

const agingLabel = (bucket: string) => (bucket === 'current' ? 'Not yet due' : words(bucket));

const BUILDERS: Record<DashboardPage, (ctx: PageContext) => SectionSpec[]> = {
  overview,
  admissions,
  attendance,
  academics,
  finance,
};
