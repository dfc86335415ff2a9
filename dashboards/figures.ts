/**
 * What a dashboard page is made of, as template fragments: KPI tiles, charts with their data
 * tables, sections. Like Plot's mark constructors, each is a function of plain options, so a
 * page reads as the list of its figures. Every text goes through `html` (escaped); only the
 * SVG that Plot draws is placed as is.
 */
import type { Bar, ChartRenderer, Point, SeriesPoint } from './charts.js';
import { DASH } from './format.js';
import type { ValueKind } from './format.js';
import { html, join, raw, type Html } from './html.js';
import type { DashboardPage } from './layout.js';

/** What a chart needs of its page: the figure ids are `<page>-<name>`. */
export interface FigureContext {
  page: DashboardPage;
  charts: ChartRenderer;
}

/** A link from a figure to the list of the people behind it. */
export interface TileLink {
  href: string;
  text: string;
}

export interface TileOptions {
  label: string;
  value: string;
  note?: string | undefined;
  links?: readonly TileLink[];
}

/** A KPI: a label, a formatted value, what it is made of, and who is behind it. */
export const tile = ({ label, value, note, links }: TileOptions): Html =>
  html`<div class="tile"><dt>${label}</dt><dd>${value}${note ? html`<small>${note}</small>` : ''}${
    links?.length
      ? html`<small class="links">${join(
          links.map((l) => html`<a href="${l.href}">${l.text}</a>`),
          ' · ',
        )}</small>`
      : ''
  }</dd></div>`;

/** A table's cells are already formatted text; the first column labels the row. */
export interface TableOptions {
  columns: readonly string[];
  rows: readonly (readonly string[])[];
}

/** A data table, the first cell of each row its header. */
export const table = ({ caption, columns, rows }: TableOptions & { caption: string }): Html =>
  html`<table><caption class="muted">${caption}</caption><thead><tr>${columns.map(
    (c) => html`<th scope="col">${c}</th>`,
  )}</tr></thead><tbody>${rows.map(
    (r) =>
      html`<tr>${r.map((cell, i) =>
        i === 0 ? html`<th scope="row">${cell}</th>` : html`<td>${cell}</td>`,
      )}</tr>`,
  )}</tbody></table>`;

/** Cells of a table row: label first, then values (a missing value is a dash). */
export const row = (label: string, ...cells: (string | null | undefined)[]): string[] => [
  label,
  ...cells.map((c) => c ?? DASH),
];

/** A chart to draw, given the renderer, the figure's id and its title (`null`: nothing to draw). */
export type Plot = (charts: ChartRenderer, id: string, title: string) => string | null;

/** The kinds of chart, with the rows they draw (see `ChartRenderer`). */
export const plot = {
  bars:
    (rows: readonly Bar[], kind: ValueKind): Plot =>
    (charts, id, title) =>
      charts.bars(id, title, rows, kind),
  columns:
    (rows: readonly Bar[], kind: ValueKind): Plot =>
    (charts, id, title) =>
      charts.columns(id, title, rows, kind),
  trend:
    (points: readonly Point[], kind: ValueKind): Plot =>
    (charts, id, title) =>
      charts.trend(id, title, points, kind),
  grouped:
    (rows: readonly SeriesPoint[], series: readonly string[], kind: ValueKind): Plot =>
    (charts, id, title) =>
      charts.grouped(id, title, rows, series, kind),
};

export interface ChartOptions {
  /** Unique on its page; the figure's id is `<page>-<name>`. */
  name: string;
  title: string;
  note?: string | undefined;
  plot: Plot;
  /** The numbers behind the chart, shown under it (when it has rows). */
  table: TableOptions;
  /** Series names, in the order of the chart's colors. */
  legend?: readonly string[];
  /** Shown instead of the chart when there is nothing to draw. */
  empty?: string;
}

/** A figure: caption, the chart (or why there is none), its legend and its data table. */
export function chart(ctx: FigureContext, o: ChartOptions): Html {
  const id = `${ctx.page}-${o.name}`;
  const svg = o.plot(ctx.charts, id, o.title);
  const legend =
    svg && o.legend?.length
      ? html`<div class="legend" aria-hidden="true">${o.legend.map(
          (l, i) => html`<span><span class="swatch c${i}"></span>${l}</span>`,
        )}</div>`
      : '';
  const body =
    svg !== null ? raw(svg) : html`<p class="empty">${o.empty ?? 'No data for this period.'}</p>`;
  const data =
    o.table.rows.length > 0
      ? html`<details><summary>Data table</summary><div class="scroll">${table({
          caption: o.title,
          ...o.table,
        })}</div></details>`
      : '';
  return html`<figure id="${id}"><figcaption>${o.title}${
    o.note ? html`<small class="muted">${o.note}</small>` : ''
  }</figcaption>${legend}${body}${data}</figure>`;
}

export interface SectionOptions {
  heading: string;
  tiles?: readonly Html[];
  figures?: readonly Html[];
}

/** A headed part of a page: its tiles, then its figures. */
export const section = ({ heading, tiles, figures }: SectionOptions): Html =>
  html`<section><h2>${heading}</h2>${tiles?.length ? html`<dl class="tiles">${tiles}</dl>` : ''}${
    figures?.length ? html`<div class="figures">${join(figures, '\n')}</div>` : ''
  }</section>`;

/** A section whose metric has not been published for the page's scope. */
export const unpublished = (heading: string, what: string): Html =>
  html`<section><h2>${heading}</h2><p class="empty">No ${what} figures have been published for this scope yet.</p></section>`;
