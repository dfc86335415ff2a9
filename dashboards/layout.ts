/**
 * The page around the figures (`figures.ts`): shell, header and navigation. Everything
 * inline (one `<style>`), no scripts, no external assets.
 */
import { BASE_STYLE, html, raw, type Html } from './html.js';
import { COLORS } from './charts.js';
import { utcStamp } from './format.js';

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

const STYLE = raw(PAGE_STYLE);

export interface ShellInput {
  page: DashboardPage;
  tenantName: string;
  /** Null for the tenant-wide view. */
  school: { id: string; name: string } | null;
  /** When the data was read (ISO timestamp), and the figures' as-of date. */
  dataAsOf: string;
  asOfDate: string;
  window: string | null;
  body: Html;
}

export function pageHtml(input: ShellInput): string {
  const scopeName = input.school ? input.school.name : 'All schools';
  const query = input.school ? `?school=${input.school.id}` : '';
  const nav = PAGES.map(
    (p) =>
      html`<a href="/dashboards/${p}${query}"${p === input.page ? html` aria-current="page"` : ''}>${PAGE_TITLES[p]}</a>`,
  );
  const title = `${PAGE_TITLES[input.page]} — ${scopeName}`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${input.tenantName}</title><style>${STYLE}</style></head>
<body><main>
<header class="page"><p class="muted"><a href="/dashboards">All dashboards</a> · ${input.tenantName}</p>
<h1>${PAGE_TITLES[input.page]} <span class="muted">· ${scopeName}</span></h1>
<p class="stamp">Data as of <time datetime="${input.dataAsOf}">${utcStamp(input.dataAsOf)}</time> · figures as of ${input.asOfDate}${
    input.window ? ` · ${input.window}` : ''
  }</p>
<nav class="pages" aria-label="Dashboards">${nav}</nav></header>
${input.body}
</main></body></html>
`.value;
}
