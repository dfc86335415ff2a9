/** Finance & ESA: invoiced and collected, receivables, and ESA applications and amounts. */
import { ESA_STATUSES, type MetricPayloads } from '../../analytics/metrics/types.js';
import { chart, plot, row, section, tile, unpublished } from '../figures.js';
import { fmt, monthLabel, words } from '../format.js';
import type { Html } from '../html.js';
import { listHref, ordered, scopeOf, type PageContext } from './context.js';

export function finance(ctx: PageContext): Html[] {
  const f = ctx.figures.get('finance', scopeOf(ctx));
  const e = ctx.figures.get('esa', scopeOf(ctx));
  return [
    f ? tuition(ctx, f) : unpublished('Tuition and payments', 'finance'),
    e ? esa(ctx, e) : unpublished('ESA', 'ESA'),
  ];
}

const COLLECTED = 'Collected (applied to invoices)';

/** The families behind the AR aging buckets past 30 days. */
export const overdueLinks = (ctx: Pick<PageContext, 'school'>) => [
  { href: listHref(ctx, 'overdue', { bucket: '31-60' }), text: '31–60 days' },
  { href: listHref(ctx, 'overdue', { bucket: '61-90' }), text: '61–90' },
  { href: listHref(ctx, 'overdue', { bucket: '90+' }), text: 'over 90' },
];

function tuition(ctx: PageContext, f: MetricPayloads['finance']): Html {
  const series = ['Invoiced', COLLECTED];
  return section({
    heading: 'Tuition and payments',
    tiles: [
      tile({
        label: 'Invoiced',
        value: fmt.dollars(f.invoiced_cents),
        note: 'issued in the period',
      }),
      tile({
        label: COLLECTED,
        value: fmt.dollars(f.collected_cents),
        note: 'payments applied to any invoice, by date received in the period',
      }),
      tile({
        label: 'Collection rate',
        value: fmt.rate(f.collection_rate.rate),
        note: `of the period's invoices, paid by the data date: ${fmt.dollars(f.collection_rate.collected_cents)} of ${fmt.dollars(f.collection_rate.invoiced_cents)}`,
      }),
      tile({
        label: 'Outstanding balance',
        value: fmt.dollars(f.outstanding.balance_cents),
        note: `${fmt.count(f.outstanding.open_invoices)} open invoices`,
        links: overdueLinks(ctx),
      }),
      tile({
        label: 'ESA share of payments',
        value: fmt.rate(f.esa_share.rate),
        note: `${fmt.dollars(f.esa_share.esa_cents)} of ${fmt.dollars(f.esa_share.total_cents)}`,
      }),
    ],
    figures: [
      chart(ctx, {
        name: 'monthly',
        title: 'Invoiced and collected by month',
        legend: series,
        plot: plot.grouped(
          f.months.flatMap((m) => [
            { x: monthLabel(m.month).slice(0, 3), series: 'Invoiced', value: m.invoiced_cents },
            { x: monthLabel(m.month).slice(0, 3), series: COLLECTED, value: m.collected_cents },
          ]),
          series,
          'dollars',
        ),
        table: {
          columns: ['Month', 'Invoiced', COLLECTED, 'Payments received'],
          rows: f.months.map((m) =>
            row(
              monthLabel(m.month),
              fmt.dollars(m.invoiced_cents),
              fmt.dollars(m.collected_cents),
              fmt.dollars(m.payments_cents),
            ),
          ),
        },
      }),
      chart(ctx, {
        name: 'aging',
        title: 'Receivables by days past due',
        note: 'As of the data date.',
        plot: plot.columns(
          f.ar_aging.map((b) => ({ label: agingLabel(b.bucket), value: b.balance_cents })),
          'dollars',
        ),
        table: {
          columns: ['Past due', 'Open invoices', 'Balance'],
          rows: f.ar_aging.map((b) =>
            row(agingLabel(b.bucket), fmt.count(b.invoices), fmt.dollars(b.balance_cents)),
          ),
        },
      }),
      ...(ctx.school ? [] : [outstandingBySchool(ctx, f)]),
    ],
  });
}

function outstandingBySchool(ctx: PageContext, f: MetricPayloads['finance']): Html {
  const rows = ordered(ctx, f.by_school);
  return chart(ctx, {
    name: 'by-school',
    title: 'Outstanding balance by school',
    plot: plot.bars(
      rows.map((s) => ({ label: s.name, value: s.row.outstanding_cents })),
      'dollars',
    ),
    table: {
      columns: ['School', 'Invoiced', COLLECTED, 'Open invoices', 'Outstanding'],
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
  });
}

function esa(ctx: PageContext, e: MetricPayloads['esa']): Html {
  const amounts = [
    { label: 'Requested', value: e.requested_cents },
    { label: 'Awarded', value: e.awarded_cents },
    { label: 'Disbursed', value: e.disbursed_cents },
  ];
  return section({
    heading: 'ESA',
    tiles: [
      tile({
        label: 'Applications for the school year',
        value: fmt.count(e.applications),
        note: 'for a school year that overlaps this one (term and 30-day figures count applications by their date)',
      }),
      tile({ label: 'Approval rate', value: fmt.rate(e.approval_rate) }),
      tile({
        label: 'Median days to decision',
        value: fmt.days(e.median_days_to_decision),
        links: [{ href: listHref(ctx, 'esa-pending'), text: 'Waiting over 30 days' }],
      }),
    ],
    figures: [
      chart(ctx, {
        name: 'esa-status',
        title: 'ESA applications by status',
        plot: plot.bars(
          ESA_STATUSES.map((s) => ({ label: words(s), value: e.by_status[s] })),
          'count',
        ),
        table: {
          columns: ['Status', 'Applications'],
          rows: ESA_STATUSES.map((s) => row(words(s), fmt.count(e.by_status[s]))),
        },
      }),
      chart(ctx, {
        name: 'esa-amounts',
        title: 'ESA amounts',
        plot: plot.bars(amounts, 'dollars'),
        table: {
          columns: ['Amount', 'Total'],
          rows: amounts.map((a) => row(a.label, fmt.dollars(a.value))),
        },
      }),
      ...(ctx.school ? [] : [esaBySchool(ctx, e)]),
    ],
  });
}

function esaBySchool(ctx: PageContext, e: MetricPayloads['esa']): Html {
  const rows = ordered(ctx, e.by_school);
  return chart(ctx, {
    name: 'esa-by-school',
    title: 'ESA approval rate by school',
    empty: 'No ESA applications have been decided yet.',
    plot: plot.bars(
      rows.map((s) => ({ label: s.name, value: s.row.approval_rate })),
      'rate',
    ),
    table: {
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
  });
}

const agingLabel = (bucket: string) => (bucket === 'current' ? 'Not yet due' : words(bucket));
