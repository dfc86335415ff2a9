/** Attendance: the rate by day, grade and school, chronic absence, and days not taken. */
import type { MetricPayloads } from '../../analytics/metrics/types.js';
import { chart, plot, row, section, tile, unpublished } from '../figures.js';
import { fmt } from '../format.js';
import type { Html } from '../html.js';
import { listHref, ordered, scopeOf, type Named, type PageContext } from './context.js';

type Attendance = MetricPayloads['attendance'];

export function attendance(ctx: PageContext): Html[] {
  const a = ctx.figures.get('attendance', scopeOf(ctx));
  if (!a) return [unpublished('Attendance', 'attendance')];
  const bySchool = ordered(ctx, a.by_school);
  return [
    section({
      heading: 'Attendance',
      tiles: [
        tile({
          label: 'Attendance (ADA)',
          value: fmt.percent(a.ada_percent),
          note: `${fmt.count(a.present_days)} present of ${fmt.count(a.marked_days)} marked days`,
        }),
        tile({
          label: 'Membership days marked',
          value: fmt.percent(a.completeness_percent),
          note: `${fmt.count(a.marked_days)} of ${fmt.count(a.membership_days)} days; unmarked days are not absences`,
        }),
        tile({
          label: 'Chronic absence',
          value: fmt.rate(a.chronic_absence_rate),
          note: `${fmt.count(a.chronically_absent)} of ${fmt.count(a.chronic_eligible)} students`,
          links: [
            { href: listHref(ctx, 'chronic-absence'), text: 'Who' },
            { href: listHref(ctx, 'at-risk'), text: 'At risk (5–10%)' },
          ],
        }),
        tile({ label: 'Students', value: fmt.count(a.students) }),
      ],
      figures: [
        dailyTrend(ctx, 'daily', 'Daily attendance rate', a.daily),
        byGradeChart(ctx, a),
        ...(ctx.school ? [] : schoolCharts(ctx, bySchool)),
      ],
    }),
    section({
      heading: 'Completeness',
      tiles: [
        tile({
          label: 'Days without attendance',
          value: fmt.count(a.completeness.days_without_attendance),
          note: `of ${fmt.count(a.completeness.instructional_days)} school days`,
        }),
      ],
      figures: [
        chart(ctx, {
          name: 'completeness',
          title: 'School days without attendance taken',
          note: a.completeness.missing.length
            ? `Most recent: ${[...new Set(a.completeness.missing.map((m) => m.date))].slice(-3).join(', ')}`
            : undefined,
          empty: 'Attendance was taken on every school day.',
          plot: plot.bars(
            bySchool.map((s) => ({ label: s.name, value: s.row.days_without_attendance })),
            'count',
          ),
          table: {
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
        }),
      ],
    }),
  ];
}

/** The daily rate over marked days (also on a school's overview, for the last 30 days). */
export function dailyTrend(
  ctx: PageContext,
  name: string,
  title: string,
  daily: Attendance['daily'],
): Html {
  return chart(ctx, {
    name,
    title,
    note: 'Present ÷ marked membership days. Unmarked days (no attendance taken) are not absences; they are under Completeness.',
    empty: 'No attendance was taken in this period.',
    plot: plot.trend(
      daily.map((d) => ({ date: d.date, value: d.rate_percent })),
      'percent',
    ),
    table: {
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
  });
}

function byGradeChart(ctx: PageContext, a: Attendance): Html {
  const grades = byGrade(a.by_grade);
  return chart(ctx, {
    name: 'by-grade',
    title: 'Attendance rate by grade',
    plot: plot.bars(
      grades.map((g) => ({ label: gradeLabel(g.grade_level), value: g.ada_percent })),
      'percent',
    ),
    table: {
      columns: ['Grade', 'Students', 'ADA', 'Days marked', 'Chronic absence'],
      rows: grades.map((g) =>
        row(
          gradeLabel(g.grade_level),
          fmt.count(g.students),
          fmt.percent(g.ada_percent),
          fmt.percent(g.completeness_percent),
          fmt.rate(g.chronic_absence_rate),
        ),
      ),
    },
  });
}

/** The tenant-wide view's comparisons: the rate and chronic absence by school. */
function schoolCharts(
  ctx: PageContext,
  bySchool: Named<Attendance['by_school'][number]>[],
): Html[] {
  return [
    chart(ctx, {
      name: 'by-school',
      title: 'Attendance rate by school',
      plot: plot.bars(
        bySchool.map((s) => ({ label: s.name, value: s.row.ada_percent })),
        'percent',
      ),
      table: {
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
    }),
    chart(ctx, {
      name: 'chronic-by-school',
      title: 'Chronic absence by school',
      plot: plot.bars(
        bySchool.map((s) => ({ label: s.name, value: s.row.chronic_absence_rate })),
        'rate',
      ),
      table: {
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
    }),
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
