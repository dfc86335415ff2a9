/** Academics: grades, failing students, missing work and GPA, by school or by subject. */
import type { MetricPayloads } from '../../analytics/metrics/types.js';
import type { Bar } from '../charts.js';
import { chart, plot, row, section, tile, unpublished } from '../figures.js';
import { fmt, words } from '../format.js';
import type { Html } from '../html.js';
import { listHref, ordered, scopeOf, type PageContext } from './context.js';

type Grades = MetricPayloads['grades'];
type GroupFigures = Grades['by_subject'][number] | Grades['by_school'][number];

export function academics(ctx: PageContext): Html[] {
  const g = ctx.figures.get('grades', scopeOf(ctx));
  if (!g) return [unpublished('Academics', 'grades')];
  const total = g.letters.reduce((n, l) => n + l.count, 0);
  // The tenant view compares schools; a school view compares its subjects.
  const groups: { label: string; f: GroupFigures }[] = ctx.school
    ? g.by_subject.map((s) => ({ label: words(s.subject), f: s }))
    : ordered(ctx, g.by_school).map((s) => ({ label: s.name, f: s.row }));
  const by = ctx.school ? 'subject' : 'school';
  const groupBars = (pick: (f: GroupFigures) => number | null): Bar[] =>
    groups.map((x) => ({ label: x.label, value: pick(x.f) }));
  const groupColumn = ctx.school ? 'Subject' : 'School';
  return [
    section({
      heading: 'Academics',
      tiles: keyFigures(ctx, g),
      figures: [
        chart(ctx, {
          name: 'letters',
          title: 'Grade distribution',
          empty: 'No class grades yet.',
          plot: plot.columns(
            g.letters.map((l) => ({ label: l.letter, value: l.count })),
            'count',
          ),
          table: {
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
        }),
        chart(ctx, {
          name: 'failing',
          title: `Students failing a class, by ${by}`,
          plot: plot.bars(
            groupBars((f) => f.failing_rate),
            'rate',
          ),
          table: {
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
        }),
        chart(ctx, {
          name: 'missing',
          title: `Missing-assignment rate by ${by}`,
          plot: plot.bars(
            groupBars((f) => f.missing_rate),
            'rate',
          ),
          table: {
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
        }),
        chart(ctx, {
          name: 'gpa',
          title: `GPA by ${by}`,
          empty: 'No final grades yet.',
          plot: plot.bars(
            groupBars((f) => f.gpa),
            'gpa',
          ),
          table: {
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
        }),
      ],
    }),
  ];
}

const keyFigures = (ctx: PageContext, g: Grades): Html[] => [
  tile({
    label: 'Average grade',
    value: fmt.percent(g.average_percent),
    note: `${fmt.count(g.student_classes)} class grades`,
  }),
  tile({
    label: 'Students failing a class',
    value: fmt.rate(g.failing_rate),
    note: `${fmt.count(g.failing_students)} of ${fmt.count(g.students)} students with grades are below 60% in at least one class`,
    links: [{ href: listHref(ctx, 'failing'), text: 'Who' }],
  }),
  tile({
    label: 'Missing assignments',
    value: fmt.rate(g.missing_rate),
    note: `${fmt.count(g.missing_scores)} of ${fmt.count(g.scores_due)} due`,
    links: [{ href: listHref(ctx, 'missing-work'), text: 'Who' }],
  }),
  tile({
    label: 'GPA',
    value: fmt.gpa(g.gpa),
    note: `${fmt.count(g.credits_attempted)} credits attempted`,
  }),
];
