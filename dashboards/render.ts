/**
 * Renders the dashboard pages of one publication: every page (or those `only` accepts) for
 * the tenant-wide view and one view per school that has published figures. Pure: equal
 * input gives equal HTML, whichever other pages are rendered alongside.
 */
import type { AnySnapshot } from '../analytics/metrics/types.js';
import { ChartRenderer, type ChartCache } from './charts.js';
import { pageHtml, PAGES, type DashboardPage } from './layout.js';
import { Figures, pageBody, pageWindow, type PageContext } from './pages.js';

export interface RenderOptions {
  tenantName: string;
  /** Names of the tenant's schools (org units); ids missing here get a neutral label. */
  schools: readonly { id: string; name: string }[];
  /**
   * When the published data was read (`metric_snapshots.as_of`): one instant for every page,
   * or per page and scope (a school's id, null for the tenant-wide view).
   */
  asOf: string | Date | ((page: DashboardPage, scopeId: string | null) => string | Date);
  /** Render only the page × scope rows this accepts (default: every one). */
  only?: (page: DashboardPage, scopeId: string | null) => boolean;
  /** The charts drawn before (default: this thread's cache). */
  charts?: ChartCache;
}

export interface RenderedPage {
  page: DashboardPage;
  scopeKind: 'tenant' | 'school';
  /** The school's org unit id; null for the tenant-wide view. */
  scopeId: string | null;
  html: string;
}

/**
 * The views of a publication in rendering order: the tenant-wide view (null), then every
 * school with published figures, by name.
 */
export function renderScopes(
  snapshots: readonly AnySnapshot[],
  schools: RenderOptions['schools'],
): { schoolName: (id: string | null) => string; scopes: ({ id: string; name: string } | null)[] } {
  const names = new Map(schools.map((s) => [s.id, s.name]));
  const schoolName = (id: string | null) =>
    id === null ? 'No school' : (names.get(id) ?? `School ${id.slice(0, 8)}`);
  const schoolIds = [
    ...new Set(
      snapshots.filter((s) => s.scopeKind === 'school' && s.scopeId).map((s) => s.scopeId!),
    ),
  ];
  const sorted = schoolIds
    .map((id) => ({ id, name: schoolName(id) }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en') || a.id.localeCompare(b.id));
  return { schoolName, scopes: [null, ...sorted] };
}

/** The stamp of a page × scope as `renderDashboardPages` writes it (ISO-8601). */
export function stampOf(
  asOf: RenderOptions['asOf'],
  page: DashboardPage,
  scopeId: string | null,
): string {
  const at = typeof asOf === 'function' ? asOf(page, scopeId) : asOf;
  return at instanceof Date ? at.toISOString() : new Date(at).toISOString();
}

export function renderDashboardPages(
  snapshots: readonly AnySnapshot[],
  options: RenderOptions,
): RenderedPage[] {
  const { schoolName, scopes } = renderScopes(snapshots, options.schools);
  const schools = scopes.filter((s): s is { id: string; name: string } => s !== null);
  const figures = new Figures(snapshots);
  const charts = new ChartRenderer(options.charts);
  const out: RenderedPage[] = [];
  for (const school of scopes) {
    const scopeId = school?.id ?? null;
    const pages = PAGES.filter((p) => options.only?.(p, scopeId) ?? true);
    for (const page of pages) {
      const dataAsOf = stampOf(options.asOf, page, scopeId);
      const asOfDate = snapshots[0]?.asOf ?? dataAsOf.slice(0, 10);
      const ctx: PageContext = { page, figures, charts, school, schools, schoolName };
      out.push({
        page,
        scopeKind: school ? 'school' : 'tenant',
        scopeId,
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
