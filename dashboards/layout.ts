/**
 * The HTML around the charts: page shell and navigation, KPI tiles, figures with their data
 * tables, empty states. Everything inline (one `<style>`), no scripts, no external assets.
 */
import { BASE_STYLE, escapeHtml } from './html.js';
import { COLORS } from './charts.js';
import { DASH, utcStamp } from './format.js';

export const PAGE_TITLES = {
  overview: 'Overview',
  admissions: 'Admissions',
  attendance: 'Attendance',
  academics: 'Academics',
  finance: 'Finance & ESA',
} as const;
export type DashboardPage = keyof typeof PAGE_TITLES;
export const PAGES = Object.keys(PAGE_TITLES) as DashboardPage[];

export const PAGE_STYLE = `${BASE_STYLE}
main{max-width:72rem}
header.page{border-bottom:1px solid #d0d7de;margin-bottom:1rem}
header.page h1{margin-bottom:.25rem}
.stamp{margin:.25rem 0 .75rem;color:#57606a;font-size:.9rem}
nav.pages{display:flex;flex-wrap:wrap;gap:.25rem .9rem;margin:.5rem 0 .75rem;font-size:.95rem}
nav.pages a[aria-current=page]{font-weight:600;color:#1b1f24;text-decoration:none}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.75rem;margin:1rem 0;padding:0}
.tile{border:1px solid #d0d7de;border-radius:.5rem;padding:.6rem .8rem;margin:0}
.tile dt{font-size:.85rem;color:#57606a}
.tile dd{margin:0;font-size:1.5rem;font-weight:600;font-variant-numeric:tabular-nums}
.tile dd small{display:block;font-size:.8rem;font-weight:400}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,28rem),1fr));gap:1.25rem}
figure{margin:0;border:1px solid #d0d7de;border-radius:.5rem;padding:.75rem;min-width:0;break-inside:avoid}
figcaption{font-weight:600;margin-bottom:.5rem}
figcaption small{display:block;font-weight:400}
figure svg{display:block;width:100%;max-width:100%;height:auto;color:#1b1f24}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.85rem;margin:.25rem 0}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-.1rem;print-color-adjust:exact;-webkit-print-color-adjust:exact}
${COLORS.map((c, i) => `.c${i}{background:${c}}`).join('')}
.empty{color:#57606a;font-style:italic;padding:1rem 0;margin:0}
details{margin-top:.5rem;font-size:.9rem}
summary{cursor:pointer;color:#0b5cad}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin-top:.5rem;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .5rem;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal}
thead th{border-bottom:1px solid #8c959f}
@media (max-width:40rem){main{padding:.75rem}.tile dd{font-size:1.25rem}figure{padding:.5rem}}
@media print{
  body{font-size:11pt}nav.pages,summary{display:none}
  main{max-width:none;padding:0}
  .figures{display:block}figure{margin:0 0 1rem;border:0;padding:0;page-break-inside:avoid}
  details::details-content{content-visibility:visible;display:contents}
}`;

export interface Tile {
  label: string;
  value: string;
  note?: string;
}

/** A table's cells are already formatted text; the first column labels the row. */
export interface Table {
  columns: string[];
  rows: string[][];
}

export interface FigureSpec {
  id: string;
  title: string;
  note?: string;
  svg: string | null;
  table: Table;
  /** Series names, in the order of the chart's colors. */
  legend?: string[];
  /** Shown instead of the chart when there is nothing to draw. */
  empty?: string;
}

export const tilesHtml = (tiles: readonly Tile[]): string =>
  `<dl class="tiles">${tiles
    .map(
      (t) =>
        `<div class="tile"><dt>${escapeHtml(t.label)}</dt><dd>${escapeHtml(t.value)}${
          t.note ? `<small>${escapeHtml(t.note)}</small>` : ''
        }</dd></div>`,
    )
    .join('')}</dl>`;

export function tableHtml(title: string, table: Table): string {
  const head = table.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('');
  const body = table.rows
    .map(
      (r) =>
        `<tr>${r
          .map((cell, i) =>
            i === 0 ? `<th scope="row">${escapeHtml(cell)}</th>` : `<td>${escapeHtml(cell)}</td>`,
          )
          .join('')}</tr>`,
    )
    .join('');
  return `<table><caption class="muted">${escapeHtml(title)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function figureHtml(f: FigureSpec): string {
  const legend =
    f.svg && f.legend?.length
      ? `<div class="legend" aria-hidden="true">${f.legend
          .map((l, i) => `<span><span class="swatch c${i}"></span>${escapeHtml(l)}</span>`)
          .join('')}</div>`
      : '';
  const chart =
    f.svg ?? `<p class="empty">${escapeHtml(f.empty ?? 'No data for this period.')}</p>`;
  const table =
    f.table.rows.length > 0
      ? `<details><summary>Data table</summary><div class="scroll">${tableHtml(f.title, f.table)}</div></details>`
      : '';
  return `<figure id="${f.id}"><figcaption>${escapeHtml(f.title)}${
    f.note ? `<small class="muted">${escapeHtml(f.note)}</small>` : ''
  }</figcaption>${legend}${chart}${table}</figure>`;
}

export interface SectionSpec {
  heading: string;
  tiles?: Tile[];
  figures?: FigureSpec[];
  /** The section's metric was not published for this scope. */
  missing?: string;
}

export const sectionHtml = (s: SectionSpec): string =>
  `<section><h2>${escapeHtml(s.heading)}</h2>${
    s.missing
      ? `<p class="empty">${escapeHtml(s.missing)}</p>`
      : `${s.tiles?.length ? tilesHtml(s.tiles) : ''}${
          s.figures?.length
            ? `<div class="figures">${s.figures.map(figureHtml).join('\n')}</div>`
            : ''
        }`
  }</section>`;

export interface ShellInput {
  page: DashboardPage;
  tenantName: string;
  /** Null for the tenant-wide view. */
  school: { id: string; name: string } | null;
  /** When the data was read (ISO timestamp), and the figures' as-of date. */
  dataAsOf: string;
  asOfDate: string;
  window: string | null;
  body: string;
}

export function pageHtml(input: ShellInput): string {
  const scopeName = input.school ? input.school.name : 'All schools';
  const query = input.school ? `?school=${input.school.id}` : '';
  const nav = PAGES.map(
    (p) =>
      `<a href="/dashboards/${p}${query}"${p === input.page ? ' aria-current="page"' : ''}>${escapeHtml(PAGE_TITLES[p])}</a>`,
  ).join('');
  const title = `${PAGE_TITLES[input.page]} — ${scopeName}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(input.tenantName)}</title><style>${PAGE_STYLE}</style></head>
<body><main>
<header class="page"><p class="muted"><a href="/dashboards">All dashboards</a> · ${escapeHtml(input.tenantName)}</p>
<h1>${escapeHtml(PAGE_TITLES[input.page])} <span class="muted">· ${escapeHtml(scopeName)}</span></h1>
<p class="stamp">Data as of <time datetime="${escapeHtml(input.dataAsOf)}">${escapeHtml(utcStamp(input.dataAsOf))}</time> · figures as of ${escapeHtml(input.asOfDate)}${
    input.window ? ` · ${escapeHtml(input.window)}` : ''
  }</p>
<nav class="pages" aria-label="Dashboards">${nav}</nav></header>
${input.body}
</main></body></html>
`;
}

/** Cells of a table row: label first, then values (a missing value is a dash). */
export const row = (label: string, ...cells: (string | null | undefined)[]): string[] => [
  label,
  ...cells.map((c) => c ?? DASH),
];
