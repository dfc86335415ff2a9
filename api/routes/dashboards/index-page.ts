/**
 * The list of published dashboards for a browser (`GET /dashboards`): network-wide pages
 * first, then each school's, with when their data was read.
 */
import type * as t from '../../../db/schema/tenant.js';
import { BASE_STYLE, html, join, raw, type Html } from './html.js';
import { SESSION_STYLE } from './session-bar.js';

export type Page = (typeof t.DASHBOARD_PAGES)[number];

export interface Entry {
  page: Page;
  title: string;
  scope: { kind: 'tenant' | 'school'; school_id: string | null; school_name: string | null };
  as_of: string;
  href: string;
}

const STYLE = raw(`${BASE_STYLE}\n${SESSION_STYLE}`);

/** The index; `bar` is who is signed in (session-bar.ts). */
export function renderIndex(tenantName: string, entries: readonly Entry[], bar: Html): string {
  const groups = new Map<string, { heading: string; items: Entry[] }>();
  for (const e of entries) {
    const key = e.scope.school_id ?? 'tenant';
    const heading = e.scope.kind === 'tenant' ? 'All schools' : (e.scope.school_name ?? 'School');
    const group = groups.get(key) ?? { heading, items: [] };
    group.items.push(e);
    groups.set(key, group);
  }
  const sections = [...groups.values()].map(
    (g) =>
      html`<section><h2>${g.heading}</h2><ul>${g.items.map(
        (e) =>
          html`<li><a href="${e.href}">${e.title}</a> <small>data as of <time datetime="${e.as_of}">${e.as_of.slice(0, 16).replace('T', ' ')} UTC</time></small></li>`,
      )}</ul></section>`,
  );
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dashboards — ${tenantName}</title><style>${STYLE}</style></head>
<body>${bar}<main><h1>Dashboards <span class="muted">· ${tenantName}</span></h1>
${sections.length ? join(sections, '\n') : html`<p>No dashboards have been published yet. They appear after the first metrics refresh.</p>`}
</main></body></html>`.value;
}
