/**
 * What every page is built from: the published payloads of one publication, the chart
 * renderer and the scope being shown. Input is only the published metric payloads (ids, no
 * names) plus the school names handed in by the caller.
 */
import type {
  AnySnapshot,
  MetricName,
  MetricPayloads,
  MetricPeriod,
} from '../../analytics/metrics/types.js';
import type { FigureContext } from '../figures.js';

/** The period every page shows; the overview adds the last 30 days of attendance. */
export const PAGE_PERIOD: MetricPeriod = 'school_year';

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

export interface PageContext extends FigureContext {
  figures: Figures;
  /** Null for the tenant-wide view. */
  school: { id: string; name: string } | null;
  /** Schools with published figures, ordered by name. */
  schools: readonly { id: string; name: string }[];
  schoolName(id: string | null): string;
}

/**
 * The list behind a figure (`/dashboards/lists/…`, served by the API from the tenant's
 * records), for the page's school when it shows one.
 */
export function listHref(
  ctx: Pick<PageContext, 'school'>,
  list: string,
  extra: Record<string, string> = {},
): string {
  const params = new URLSearchParams({
    ...(ctx.school ? { school: ctx.school.id } : {}),
    ...extra,
  });
  const q = params.toString();
  return `/dashboards/lists/${list}${q ? `?${q}` : ''}`;
}

/** The scope the page shows: a school's id, null for the tenant-wide view. */
export const scopeOf = (ctx: Pick<PageContext, 'school'>) => ctx.school?.id ?? null;

/** A row of a payload with the name of its school. */
export interface Named<T> {
  row: T;
  name: string;
}

/** Rows keyed by school id, as schools by name (unnamed ones last, by id). */
export function ordered<T extends { school_id: string | null }>(
  ctx: PageContext,
  rows: readonly T[],
): Named<T>[] {
  return rows
    .map((r) => ({ row: r, name: ctx.schoolName(r.school_id) }))
    .sort(
      (a, b) =>
        a.name.localeCompare(b.name, 'en') ||
        (a.row.school_id ?? '').localeCompare(b.row.school_id ?? ''),
    );
}
