/** Admissions: the lead funnel, stage by stage, by source and week; schools compared. */
import type { MetricPayloads } from '../../analytics/metrics/types.js';
import { chart, plot, row, section, tile, unpublished } from '../figures.js';
import { dayLabel, fmt, words } from '../format.js';
import type { Html } from '../html.js';
import { listHref, scopeOf, type PageContext } from './context.js';

export function admissions(ctx: PageContext): Html[] {
  const f = ctx.figures.get('lead_funnel', scopeOf(ctx));
  if (!f) return [unpublished('Lead funnel', 'admissions')];
  return [
    section({
      heading: 'Lead funnel',
      tiles: [
        tile({
          label: 'Inquiries',
          value: fmt.count(f.leads),
          links: [
            { href: listHref(ctx, 'stale-leads'), text: 'Open leads untouched over 14 days' },
          ],
        }),
        tile({
          label: 'Inquiry → enrolled',
          value: fmt.rate(f.inquiry_to_enrolled.rate),
          note: `${fmt.count(f.stages.at(-1)?.reached)} of ${fmt.count(f.stages[0]?.reached)} inquiries reached the last stage`,
        }),
        tile({
          label: 'Student records created',
          value: fmt.count(f.converted_to_student),
          note: 'inquiries of the period turned into a student record; a lead can reach the last stage before its record is made',
        }),
        tile({ label: 'Lost', value: fmt.count(f.lost.total) }),
      ],
      figures: [
        chart(ctx, {
          name: 'funnel',
          title: 'Leads reaching each stage',
          note: 'Cumulative: a lead at a later stage counts for every earlier one.',
          plot: plot.bars(
            f.stages.map((s) => ({ label: words(s.key), value: s.reached })),
            'count',
          ),
          table: {
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
        }),
        chart(ctx, {
          name: 'by-source',
          title: 'Conversion by first-touch source',
          note: `${words(f.inquiry_to_enrolled.from)} → ${words(f.inquiry_to_enrolled.to)}`,
          plot: plot.bars(
            f.by_source.map((s) => ({ label: words(s.source), value: s.conversion_rate })),
            'rate',
          ),
          table: {
            columns: ['Source', 'Leads', 'Conversion'],
            rows: f.by_source.map((s) =>
              row(words(s.source), fmt.count(s.leads), fmt.rate(s.conversion_rate)),
            ),
          },
        }),
        chart(ctx, {
          name: 'weekly',
          title: 'Inquiries by week',
          plot: plot.columns(
            f.by_week.map((w) => ({ label: dayLabel(w.week_start), value: w.leads })),
            'count',
          ),
          table: {
            columns: ['Week of', 'Inquiries', 'Conversion'],
            rows: f.by_week.map((w) =>
              row(w.week_start, fmt.count(w.leads), fmt.rate(w.conversion_rate)),
            ),
          },
        }),
        chart(ctx, {
          name: 'lost',
          title: 'Lost leads by stage',
          empty: 'No leads were lost in this period.',
          plot: plot.bars(
            f.lost.by_stage.map((l) => ({ label: words(l.stage), value: l.count })),
            'count',
          ),
          table: {
            columns: ['Stage', 'Lost'],
            rows: f.lost.by_stage.map((l) => row(words(l.stage), fmt.count(l.count))),
          },
        }),
        ...(ctx.school ? [] : [bySchool(ctx)]),
      ],
    }),
  ];
}

function bySchool(ctx: PageContext): Html {
  const per: { name: string; f: MetricPayloads['lead_funnel'] | null }[] = ctx.schools.map((s) => ({
    name: s.name,
    f: ctx.figures.get('lead_funnel', s.id),
  }));
  return chart(ctx, {
    name: 'schools',
    title: 'Inquiry → enrolled by school',
    plot: plot.bars(
      per.map((p) => ({ label: p.name, value: p.f?.inquiry_to_enrolled.rate ?? null })),
      'rate',
    ),
    table: {
      columns: ['School', 'Inquiries', 'Student records created', 'Inquiry → enrolled'],
      rows: per.map((p) =>
        row(
          p.name,
          fmt.count(p.f?.leads),
          fmt.count(p.f?.converted_to_student),
          fmt.rate(p.f?.inquiry_to_enrolled.rate),
        ),
      ),
    },
  });
}
