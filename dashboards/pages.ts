/**
 * The five pages, each for one scope: the tenant-wide view compares schools, a school view
 * drills into that school. Each page is a file under `pages/`, a list of its figures
 * (`figures.ts`); this module says which metrics each reads and builds a page's body.
 */
import type { MetricName, MetricWindow } from '../analytics/metrics/types.js';
import { join, type Html } from './html.js';
import type { DashboardPage } from './layout.js';
import { academics } from './pages/academics.js';
import { admissions } from './pages/admissions.js';
import { attendance } from './pages/attendance.js';
import type { PageContext } from './pages/context.js';
import { finance } from './pages/finance.js';
import { overview } from './pages/overview.js';

export { Figures, PAGE_PERIOD, type PageContext } from './pages/context.js';

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

const BUILDERS: Record<DashboardPage, (ctx: PageContext) => Html[]> = {
  overview,
  admissions,
  attendance,
  academics,
  finance,
};

/** Builds one page's body: its sections in order. */
export const pageBody = (ctx: PageContext): Html => join(BUILDERS[ctx.page](ctx), '\n');

export const windowLabel = (w: MetricWindow | undefined): string | null =>
  w ? `${WINDOW_NAMES[w.source]} ${w.start} to ${w.end}` : null;
const WINDOW_NAMES: Record<MetricWindow['source'], string> = {
  session: 'school year',
  fallback: 'period',
  trailing: 'last 30 days,',
};

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
