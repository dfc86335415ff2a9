/**
 * Renders every dashboard page for every scope of one publication: the tenant-wide view and
 * one view per school that has published figures. Pure: equal input gives equal HTML.
 */
import type { AnySnapshot } from '../analytics/metrics/types.js';
import { ChartRenderer } from './charts.js';
import { pageHtml, PAGES, type DashboardPage } from './layout.js';
import { Figures, pageBody, pageWindow, type PageContext } from './pages.js';

export interface RenderOptions {
  tenantName: string;
  /** Names of the tenant's schools (org units); ids missing here get a neutral label. */
  schools: readonly { id: string; name: string }[];
  /** When the published data was read (`metric_snapshots.as_of`). */
  asOf: string | Date;
}

export interface RenderedPage {
  page: DashboardPage;
  scopeKind: 'tenant' | 'school';
  /** The school's org unit id; null for the tenant-wide view. */
  scopeId: string | null;
  html: string;
}

export function renderDashboardPages(
  snapshots: readonly AnySnapshot[],
  options: RenderOptions,
): RenderedPage[] {
  const dataAsOf =
    options.asOf instanceof Date
      ? options.asOf.toISOString()
      : new Date(options.asOf).toISOString();
  const asOfDate = snapshots[0]?.asOf ?? dataAsOf.slice(0, 10);
  const names = new Map(options.schools.map((s) => [s.id, s.name]));
  const schoolName = (id: string | null) =>
    id === null ? 'No school' : (names.get(id) ?? `School ${id.slice(0, 8)}`);
  const schoolIds = [
    ...new Set(
      snapshots.filter((s) => s.scopeKind === 'school' && s.scopeId).map((s) => s.scopeId!),
    ),
  ];
  const schools = schoolIds
    .map((id) => ({ id, name: schoolName(id) }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en') || a.id.localeCompare(b.id));

  const figures = new Figures(snapshots);
  const charts = new ChartRenderer();
  const out: RenderedPage[] = [];
  for (const school of [null, ...schools]) {
    for (const page of PAGES) {
      const ctx: PageContext = { page, figures, charts, school, schools, schoolName };
      out.push({
        page,
        scopeKind: school ? 'school' : 'tenant',
        scopeId: school?.id ?? null,
        html: pageHtml({
          page,
          tenantName: options.tenantName,
          school,
          dataAsOf,
          asOfDate,
          window: pageWindow(ctx),
          body: pageBody(ctx),
        }),
      });
    }
  }
  return out;
}
