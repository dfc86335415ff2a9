/** Overview: the key figures of every metric; schools compared, or a school's recent days. */
import { chart, plot, row, section, tile, unpublished } from '../figures.js';
import { fmt } from '../format.js';
import type { Html } from '../html.js';
import { dailyTrend } from './attendance.js';
import { listHref, scopeOf, type PageContext } from './context.js';
import { overdueLinks } from './finance.js';

export function overview(ctx: PageContext): Html[] {
  const sections = [keyFigures(ctx)];
  if (ctx.school) {
    const recent = ctx.figures.get('attendance', ctx.school.id, 'last_30_days');
    sections.push(
      recent
        ? section({
            heading: 'Recent attendance',
            figures: [
              dailyTrend(ctx, 'recent', 'Daily attendance rate, last 30 days', recent.daily),
            ],
          })
        : unpublished('Recent attendance', 'attendance'),
    );
  } else sections.push(schoolsCompared(ctx));
  return sections;
}

function keyFigures(ctx: PageContext): Html {
  const id = scopeOf(ctx);
  const att = ctx.figures.get('attendance', id);
  const recent = ctx.figures.get('attendance', id, 'last_30_days');
  const funnel = ctx.figures.get('lead_funnel', id);
  const grades = ctx.figures.get('grades', id);
  const finance = ctx.figures.get('finance', id);
  const esa = ctx.figures.get('esa', id);
  return section({
    heading: 'Key figures',
    tiles: [
      tile({
        label: 'Attendance (ADA)',
        value: fmt.percent(att?.ada_percent),
        note: `last 30 days ${fmt.percent(recent?.ada_percent)}`,
      }),
      tile({
        label: 'Chronic absence',
        value: fmt.rate(att?.chronic_absence_rate),
        note: `${fmt.count(att?.chronically_absent)} of ${fmt.count(att?.chronic_eligible)} students`,
        links: [
          { href: listHref(ctx, 'chronic-absence'), text: 'Who' },
          { href: listHref(ctx, 'at-risk'), text: 'At risk (5–10%)' },
        ],
      }),
      tile({
        label: 'Inquiry → enrolled',
        value: fmt.rate(funnel?.inquiry_to_enrolled.rate),
        note: `${fmt.count(funnel?.leads)} inquiries`,
      }),
      tile({
        label: 'Students failing a class',
        value: fmt.rate(grades?.failing_rate),
        note: `${fmt.count(grades?.failing_students)} of ${fmt.count(grades?.students)} students with grades are below 60% in at least one class`,
        links: [{ href: listHref(ctx, 'failing'), text: 'Who' }],
      }),
      tile({
        label: 'GPA',
        value: fmt.gpa(grades?.gpa),
        note: `${fmt.count(grades?.completed_enrollments)} final grades`,
      }),
      tile({
        label: 'Collection rate',
        value: fmt.rate(finance?.collection_rate.rate),
        note: `of the period's invoices, paid by the data date: ${fmt.dollars(finance?.collection_rate.collected_cents)} of ${fmt.dollars(finance?.collection_rate.invoiced_cents)}`,
      }),
      tile({
        label: 'Outstanding balance',
        value: fmt.dollars(finance?.outstanding.balance_cents),
        note: `${fmt.count(finance?.outstanding.open_invoices)} open invoices`,
        links: overdueLinks(ctx),
      }),
      tile({
        label: 'ESA approval rate',
        value: fmt.rate(esa?.approval_rate),
        note: `approved of ${fmt.count((esa?.by_status.approved ?? 0) + (esa?.by_status.denied ?? 0))} decided applications for the school year`,
      }),
      tile({
        label: 'ESA share of payments',
        value: fmt.rate(finance?.esa_share.rate),
        note: `${fmt.dollars(finance?.esa_share.esa_cents)} of ${fmt.dollars(finance?.esa_share.total_cents)} received in the period`,
      }),
    ],
  });
}

function schoolsCompared(ctx: PageContext): Html {
  const perSchool = ctx.schools.map((s) => ({
    s,
    att: ctx.figures.get('attendance', s.id),
    funnel: ctx.figures.get('lead_funnel', s.id),
    grades: ctx.figures.get('grades', s.id),
    finance: ctx.figures.get('finance', s.id),
  }));
  return section({
    heading: 'Schools compared',
    figures: [
      chart(ctx, {
        name: 'schools-ada',
        title: 'Attendance rate (ADA) by school',
        plot: plot.bars(
          perSchool.map((p) => ({ label: p.s.name, value: p.att?.ada_percent ?? null })),
          'percent',
        ),
        table: {
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
        empty: 'No school has attendance figures yet.',
      }),
    ],
  });
}
