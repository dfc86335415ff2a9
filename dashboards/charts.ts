/**
 * Chart functions: each turns rows into a static SVG string with Observable Plot, drawn in
 * a linkedom document on the server. Output is deterministic: Plot's generated ids (clip
 * paths) are renumbered per chart, and nothing reads the clock or random numbers — so a
 * chart drawn from the same input as before is taken from the chart cache instead.
 */
import { createHash } from 'node:crypto';
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { formatKind, type ValueKind } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Viewbox width: scaled to the column by CSS, so text stays legible on a phone. */
const WIDTH = 480;
const FONT_SIZE = 13;
export const COLORS = ['#2f6db5', '#9cc0e8', '#d9822b', '#5b8c3a', '#8a5ab5'] as const;

export interface Bar {
  label: string;
  value: number | null;
}

export interface Point {
  date: string;
  value: number | null;
}

export interface SeriesPoint {
  x: string;
  series: string;
  value: number | null;
}

const present = <T extends { value: number | null }>(rows: readonly T[]) =>
  rows.filter(
    (r): r is T & { value: number } => typeof r.value === 'number' && Number.isFinite(r.value),
  );

/** Nothing to draw: no values, or amounts and counts that are all zero. */
const blank = (kind: ValueKind, values: readonly { value: number }[]) =>
  values.length === 0 ||
  ((kind === 'count' || kind === 'dollars') && values.every((v) => v.value === 0));

/** The scale of a kind of value: fixed for percentages and GPA, from the data otherwise. */
const domainOf = (kind: ValueKind, values: number[]): [number, number] => {
  const max = Math.max(0, ...values);
  if (kind === 'percent') return [0, 100];
  if (kind === 'gpa') return [0, 4];
  // Small rates (chronic absence, failing) would be slivers on a 0–100 % axis.
  if (kind === 'rate') return [0, max > 0.5 || max === 0 ? 1 : Math.ceil(max * 10 + 0.5) / 10];
  return [0, max > 0 ? max : 1];
};

const tickFormat = (kind: ValueKind) => (v: number) =>
  kind === 'rate'
    ? `${Math.round(v * 100)}%`
    : kind === 'percent'
      ? `${Math.round(v)}%`
      : kind === 'dollars'
        ? compactDollars(v)
        : kind === 'gpa'
          ? v.toFixed(1)
          : Number.isInteger(v)
            ? String(v)
            : '';

function compactDollars(cents: number): string {
  const d = cents / 100;
  if (Math.abs(d) >= 1e6) return `$${+(d / 1e6).toFixed(1)}M`;
  if (Math.abs(d) >= 1e3) return `$${+(d / 1e3).toFixed(1)}k`;
  return `$${Math.round(d)}`;
}

/**
 * Charts already drawn, by a digest of their input (the chart function and its arguments),
 * least recently used first; at most `maxBytes` of SVG per thread. A refresh changes the
 * figures behind some charts of a page, not all of them (1,000 changed rows of a large
 * tenant: about a quarter), and drawing is most of a page's rendering.
 */
export class ChartCache {
  private readonly svgs = new Map<string, string | null>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.svgs.size;
  }

  /** The chart drawn from `input` before, or `draw`'s, kept for next time. */
  chart(input: readonly unknown[], draw: () => string | null): string | null {
    const key = createHash('sha1').update(JSON.stringify(input)).digest('base64');
    const hit = this.svgs.get(key);
    if (hit !== undefined) {
      this.svgs.delete(key);
      this.svgs.set(key, hit);
      return hit;
    }
    const svg = draw();
    const size = svg?.length ?? 0;
    if (size > this.maxBytes) return svg;
    this.svgs.set(key, svg);
    this.bytes += size;
    for (const [old, oldSvg] of this.svgs) {
      if (this.bytes <= this.maxBytes) break;
      this.svgs.delete(old);
      this.bytes -= oldSvg?.length ?? 0;
    }
    return svg;
  }
}

/** This thread's chart cache (32 MiB of SVG: the charts of a dozen large tenants). */
const sharedCache = new ChartCache(32 * 1024 * 1024);

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Draws Plot charts into one linkedom document and serialises them as standalone SVG; a
 * chart whose input was drawn before comes from `cache` (default: the thread's).
 */
export class ChartRenderer {
  private readonly document = parseHTML('<!doctype html><html><body></body></html>')
    .document as unknown as Document;

  constructor(private readonly cache: ChartCache = sharedCache) {}

  /** Horizontal bars, one per labelled row (rows without a value are left out). */
  bars(id: string, title: string, rows: readonly Bar[], kind: ValueKind): string | null {
    return this.cache.chart(['bars', id, title, rows, kind], () =>
      this.drawBars(id, title, rows, kind),
    );
  }

  /** Vertical bars over ordered categories (letters, weeks, aging buckets). */
  columns(id: string, title: string, rows: readonly Bar[], kind: ValueKind): string | null {
    return this.cache.chart(['columns', id, title, rows, kind], () =>
      this.drawColumns(id, title, rows, kind),
    );
  }

  /** A line over dates (`YYYY-MM-DD`), gaps where a day has no value. */
  trend(id: string, title: string, points: readonly Point[], kind: ValueKind): string | null {
    return this.cache.chart(['trend', id, title, points, kind], () =>
      this.drawTrend(id, title, points, kind),
    );
  }

  /** Side-by-side bars of several series per category (e.g. invoiced and collected by month). */
  grouped(
    id: string,
    title: string,
    rows: readonly SeriesPoint[],
    series: readonly string[],
    kind: ValueKind,
  ): string | null {
    return this.cache.chart(['grouped', id, title, rows, series, kind], () =>
      this.drawGrouped(id, title, rows, series, kind),
    );
  }

  private drawBars(id: string, title: string, rows: readonly Bar[], kind: ValueKind) {
    const data = present(rows);
    if (blank(kind, data)) return null;
    const labels = data.map((d) => clip(d.label, 24));
    const marginLeft = Math.min(200, 16 + 8 * Math.max(...labels.map((l) => l.length)));
    const [lo, hi] = domainOf(
      kind,
      data.map((d) => d.value),
    );
    return this.render(id, title, {
      width: WIDTH,
      height: 44 + 30 * data.length,
      marginLeft,
      marginRight: kind === 'dollars' ? 96 : 64,
      x: { domain: [lo, hi], grid: true, label: null, tickFormat: tickFormat(kind), ticks: 4 },
      // Rows are placed by position, so two equal labels never merge into one bar.
      y: {
        domain: labels.map((_l, i) => i),
        label: null,
        tickSize: 0,
        tickFormat: (i: number) => labels[i] ?? '',
      },
      marks: [
        Plot.barX(data, { y: (_d, i) => i, x: 'value', fill: COLORS[0] }),
        Plot.text(data, {
          y: (_d, i) => i,
          x: 'value',
          text: (d: Bar) => formatKind(kind, d.value),
          textAnchor: 'start',
          dx: 4,
        }),
        Plot.ruleX([0]),
      ],
    });
  }

  private drawColumns(id: string, title: string, rows: readonly Bar[], kind: ValueKind) {
    const data = present(rows);
    if (blank(kind, data)) return null;
    const [lo, hi] = domainOf(
      kind,
      data.map((d) => d.value),
    );
    const many = rows.length > 12;
    return this.render(id, title, {
      width: WIDTH,
      height: many ? 280 : 250,
      marginLeft: kind === 'dollars' ? 56 : 44,
      marginBottom: many ? 56 : 32,
      x: {
        domain: rows.map((r) => r.label),
        label: null,
        tickRotate: many ? -45 : 0,
        ...(many ? { tickFormat: (l: string, i: number) => (i % 2 === 0 ? l : '') } : {}),
      },
      y: { domain: [lo, hi], grid: true, label: null, tickFormat: tickFormat(kind), ticks: 5 },
      marks: [
        Plot.barY(data, { x: 'label', y: 'value', fill: COLORS[0] }),
        ...(many
          ? []
          : [
              Plot.text(data, {
                x: 'label',
                y: 'value',
                text: (d: Bar) => formatKind(kind, d.value),
                dy: -8,
              }),
            ]),
        Plot.ruleY([0]),
      ],
    });
  }

  private drawTrend(id: string, title: string, points: readonly Point[], kind: ValueKind) {
    const data = points.map((p) => ({
      date: new Date(`${p.date}T00:00:00Z`),
      value: typeof p.value === 'number' && Number.isFinite(p.value) ? p.value : null,
    }));
    const values = present(data).map((d) => d.value);
    if (values.length === 0) return null;
    const min = Math.min(...values);
    const domain: [number, number] =
      kind === 'percent'
        ? [Math.max(0, Math.floor(Math.min(min, 80) / 10) * 10), 100]
        : domainOf(kind, values);
    return this.render(id, title, {
      width: WIDTH,
      height: 250,
      marginLeft: 44,
      marginBottom: 40,
      x: { type: 'utc', label: null, ticks: 5 },
      y: { domain, grid: true, label: null, tickFormat: tickFormat(kind), ticks: 5 },
      marks: [
        Plot.lineY(data, { x: 'date', y: 'value', stroke: COLORS[0], strokeWidth: 2 }),
        ...(values.length <= 40
          ? [Plot.dot(present(data), { x: 'date', y: 'value', fill: COLORS[0], r: 2.5 })]
          : []),
      ],
    });
  }

  private drawGrouped(
    id: string,
    title: string,
    rows: readonly SeriesPoint[],
    series: readonly string[],
    kind: ValueKind,
  ) {
    const data = present(rows);
    if (blank(kind, data)) return null;
    const xs = [...new Set(rows.map((r) => r.x))];
    const [lo, hi] = domainOf(
      kind,
      data.map((d) => d.value),
    );
    const many = xs.length > 6;
    return this.render(id, title, {
      width: WIDTH,
      height: many ? 280 : 250,
      marginLeft: kind === 'dollars' ? 56 : 44,
      marginBottom: many ? 48 : 32,
      fx: { domain: xs, label: null, padding: 0.15, tickRotate: many ? -40 : 0 },
      x: { domain: series, axis: null, padding: 0.05 },
      y: { domain: [lo, hi], grid: true, label: null, tickFormat: tickFormat(kind), ticks: 5 },
      color: { domain: series, range: COLORS.slice(0, series.length) },
      marks: [
        Plot.barY(data, { fx: 'x', x: 'series', y: 'value', fill: 'series' }),
        Plot.ruleY([0]),
      ],
    });
  }

  private render(id: string, title: string, options: Plot.PlotOptions): string {
    const svg = Plot.plot({ ...options, document: this.document }) as unknown as SVGSVGElement;
    if (svg.tagName.toLowerCase() !== 'svg') throw new Error(`chart ${id} is not a bare SVG`);
    // The chart is one image named by its title (its numbers are in the data table beside
    // it): the labels Plot puts on its mark groups would be ARIA on elements without a role.
    for (const el of svg.querySelectorAll('[aria-label], [aria-description]')) {
      el.removeAttribute('aria-label');
      el.removeAttribute('aria-description');
    }
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', title);
    svg.setAttribute('font-size', String(FONT_SIZE));
    const heading = this.document.createElementNS(SVG_NS, 'title');
    heading.textContent = title;
    svg.insertBefore(heading, svg.firstChild);
    return stableIds(svg.outerHTML, id);
  }
}

/** Renumbers every id in an SVG (and its `url(#…)`/`#…` references) from the chart's id. */
export function stableIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) {
    if (!ids.has(m[1]!)) ids.set(m[1]!, `${prefix}-${ids.size + 1}`);
  }
  if (ids.size === 0) return svg;
  return svg.replace(/(\sid="|url\(#|href="#)([^")]+)/g, (all, lead: string, name: string) =>
    ids.has(name) ? `${lead}${ids.get(name)}` : all,
  );
}
