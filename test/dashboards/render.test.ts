import * as Plot from '@observablehq/plot';
import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { ChartCache, ChartRenderer, stableIds } from '../../dashboards/charts.js';
import { PAGES } from '../../dashboards/layout.js';
import { PAGE_METRICS } from '../../dashboards/pages.js';
import { renderDashboardPages, type RenderedPage } from '../../dashboards/render.js';
import { renderDashboardPagesInThreads } from '../../dashboards/render-pool.js';
import type { LeadFunnelPayload } from '../../analytics/metrics/types.js';
import { DATA_AS_OF, fixtureSnapshots, NORTH, SCHOOLS, SOUTH, UNNAMED } from './fixtures.js';

// Server-rendered dashboards from fixed payloads: snapshots, plus the properties the CSP,
// accessibility and printing rely on.

const options = { tenantName: 'Alpha Academy', schools: SCHOOLS, asOf: DATA_AS_OF };
const render = () => renderDashboardPages(fixtureSnapshots(), options);
const pages = render();
const scopeName = (p: RenderedPage) =>
  p.scopeId === null
    ? 'tenant'
    : { [NORTH]: 'north', [SOUTH]: 'south', [UNNAMED]: 'unnamed' }[p.scopeId];
const find = (page: string, scopeId: string | null) =>
  pages.find((p) => p.page === page && p.scopeId === scopeId)!;
const dom = (html: string) => new JSDOM(html).window.document;
const tile = (doc: Document, label: string) =>
  [...doc.querySelectorAll('.tile')]
    .find((t) => t.querySelector('dt')?.textContent === label)
    ?.querySelector('dd')?.childNodes[0]?.textContent;

describe('dashboard pages', () => {
  it('renders every page for the tenant and for each school with figures', () => {
    const keys = pages.map((p) => `${p.page}:${scopeName(p)}`);
    const scopes = ['tenant', 'north', 'unnamed', 'south'];
    expect(new Set(keys)).toEqual(new Set(scopes.flatMap((s) => PAGES.map((p) => `${p}:${s}`))));
    expect(keys).toHaveLength(PAGES.length * 4);
    for (const p of pages) expect(p.scopeKind).toBe(p.scopeId ? 'school' : 'tenant');
  });

  it.each(pages.map((p) => [`${p.page}-${scopeName(p)}`, p] as const))(
    'matches the stored snapshot: %s',
    async (name, p) => {
      await expect(p.html).toMatchFileSnapshot(`./__snapshots__/${name}.html`);
    },
  );

  it('renders the same rows on the rendering threads, in the same order', async () => {
    const threaded = await renderDashboardPagesInThreads(fixtureSnapshots(), options);
    expect(threaded).toEqual(pages);
    // A subset, each row with its own stamp.
    const stamp = (page: string, scopeId: string | null) =>
      scopeId === SOUTH ? '2025-01-15T08:00:00.000Z' : `2025-01-1${page.length % 10}T00:00:00.000Z`;
    const only = (page: string, scopeId: string | null) => page !== 'finance' && scopeId !== NORTH;
    expect(
      await renderDashboardPagesInThreads(fixtureSnapshots(), { ...options, asOf: stamp, only }),
    ).toEqual(renderDashboardPages(fixtureSnapshots(), { ...options, asOf: stamp, only }));
  });

  it('is deterministic: equal payloads give equal HTML, whatever was rendered before', () => {
    // Advance Plot's process-wide clip-path counter between the two renders.
    const document = new JSDOM('').window.document;
    Plot.plot({ document, marks: [Plot.lineY([1, 2, 3], { clip: true })] });
    const again = render();
    expect(again.map((p) => p.html)).toEqual(pages.map((p) => p.html));
  });

  it('renders a page alone exactly as among all pages, whatever the metrics it does not declare say', () => {
    // `PAGE_METRICS` decides which pages an incremental publication re-renders: a page must
    // not change when only other metrics do. Those get another scope's payload here.
    const rotated = (keep: readonly string[]) => {
      const all = fixtureSnapshots();
      return all.map((s) => {
        if (keep.includes(s.metric)) return s;
        const same = all.filter((o) => o.metric === s.metric);
        const other = same[(same.indexOf(s) + 1) % same.length]!;
        return { ...s, payload: other.payload } as typeof s;
      });
    };
    for (const p of pages) {
      const alone = renderDashboardPages(rotated(PAGE_METRICS[p.page]), {
        ...options,
        asOf: (page, scopeId) => (page === p.page && scopeId === p.scopeId ? DATA_AS_OF : 'x'),
        only: (page, scopeId) => page === p.page && scopeId === p.scopeId,
      });
      expect(alone.map((r) => [r.page, r.scopeId])).toEqual([[p.page, p.scopeId]]);
      expect(alone[0]!.html, `${p.page}-${scopeName(p)}`).toBe(p.html);
    }
    // The check has teeth: rotating a declared metric changes the page.
    const academics = renderDashboardPages(rotated([]), {
      ...options,
      only: (page, scopeId) => page === 'academics' && scopeId === NORTH,
    });
    expect(academics[0]!.html).not.toBe(find('academics', NORTH).html);
  });

  it('holds under the CSP: no scripts, no external assets, nothing but inline styles', () => {
    for (const p of pages) {
      expect(p.html, p.page).not.toMatch(/<script/i);
      expect(p.html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
      expect(p.html).not.toMatch(/@import|@font-face|url\((?!#)/i);
      const doc = dom(p.html);
      for (const el of doc.querySelectorAll('[src], [href], link, img, iframe, object, embed')) {
        const url = el.getAttribute('src') ?? el.getAttribute('href') ?? '';
        expect(url, el.outerHTML.slice(0, 120)).toMatch(/^(\/dashboards(\/|\?|$)|#)/);
        expect(['link', 'img', 'iframe', 'object', 'embed']).not.toContain(el.localName);
      }
      expect(p.html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    }
  });

  it('gives every chart role="img", a label and a title, and a table with the same numbers', () => {
    let charts = 0;
    for (const p of pages) {
      const doc = dom(p.html);
      const figures = [...doc.querySelectorAll('figure')];
      for (const svg of doc.querySelectorAll('svg')) {
        expect(svg.getAttribute('role')).toBe('img');
        expect(svg.getAttribute('aria-label')?.length).toBeGreaterThan(3);
        expect(svg.querySelector(':scope > title')?.textContent).toBe(
          svg.getAttribute('aria-label'),
        );
        expect(svg.getAttribute('viewBox')).toMatch(/^0 0 \d+ \d+$/);
        expect(svg.closest('figure')).not.toBeNull();
        charts++;
      }
      for (const f of figures) {
        const svg = f.querySelector('svg');
        const table = f.querySelector('details table');
        const empty = f.querySelector('.empty');
        expect(f.querySelector('figcaption')?.textContent?.length, f.id).toBeGreaterThan(3);
        // A chart always has its data table; a figure without a chart says why.
        if (svg) expect(table, `${p.page} ${f.id}`).not.toBeNull();
        else expect(empty?.textContent?.length, `${p.page} ${f.id}`).toBeGreaterThan(10);
        // Value labels drawn on the bars are numbers from the table.
        const cells = new Set([...(table?.querySelectorAll('td') ?? [])].map((c) => c.textContent));
        for (const label of svg?.querySelectorAll('g[aria-label="text"] text') ?? []) {
          expect(cells, `${f.id}: ${label.textContent}`).toContain(label.textContent);
        }
      }
    }
    expect(charts).toBeGreaterThan(40);
  });

  it('stamps the data time and window on every page, and is made for phones and print', () => {
    for (const p of pages) {
      expect(p.html).toContain(
        'Data as of <time datetime="2026-02-02T06:15:00.000Z">2026-02-02 06:15 UTC</time>',
      );
      expect(p.html).toContain(
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
      );
      expect(p.html).toContain('@media print');
      expect(p.html).toMatch(/figure svg\{[^}]*max-width:100%/);
      expect(p.html).not.toMatch(/NaN|undefined|Infinity|\[object /);
    }
    expect(find('attendance', NORTH).html).toContain('school year 2025-08-18 to 2026-02-02');
  });

  it('shows a dash for ratios over zero and a clear empty state for missing data', () => {
    const south = dom(find('academics', SOUTH).html);
    expect(tile(south, 'GPA')).toBe('—');
    expect(tile(south, 'Students failing a class')).toBe('—');
    expect(south.querySelector('#academics-letters .empty')?.textContent).toBe(
      'No class grades yet.',
    );
    expect(south.querySelector('#academics-letters svg')).toBeNull();

    const southFinance = dom(find('finance', SOUTH).html);
    expect(southFinance.body.textContent).toContain(
      'No finance figures have been published for this scope yet.',
    );
    expect(tile(southFinance, 'Approval rate')).toBe('—');
    expect(tile(southFinance, 'Median days to decision')).toBe('—');

    const sources = dom(find('admissions', null).html).querySelectorAll('#admissions-by-source tr');
    const radio = [...sources].find((r) => r.querySelector('th')?.textContent === 'Radio');
    expect([...radio!.querySelectorAll('td')].map((c) => c.textContent)).toEqual(['0', '—']);

    const unnamed = dom(find('admissions', UNNAMED).html);
    expect(tile(unnamed, 'Inquiry → enrolled')).toBe('—');
    expect(unnamed.querySelector('#admissions-by-source .empty')).not.toBeNull();
    const unnamedOverview = dom(find('overview', UNNAMED).html);
    expect(tile(unnamedOverview, 'Attendance (ADA)')).toBe('—');
    expect(unnamedOverview.body.textContent).toContain('No attendance figures have been published');
    expect(dom(find('attendance', UNNAMED).html).querySelectorAll('svg')).toHaveLength(0);
  });

  it('rounds an unrounded payload ratio once, at display: 51 of 756 is 6.7 %, not 6.8 %', () => {
    const snapshots = fixtureSnapshots().map((s) => {
      if (s.metric !== 'lead_funnel' || s.scopeId !== null) return s;
      const p = s.payload as LeadFunnelPayload;
      const stages = p.stages.map((st, i) => ({
        ...st,
        reached: i === 0 ? 756 : i === p.stages.length - 1 ? 51 : st.reached,
      }));
      const rate = 51 / 756; // 0.06746…: rounded to 4 decimals first it would show 6.8 %
      return {
        ...s,
        payload: {
          ...p,
          leads: 756,
          stages,
          inquiry_to_enrolled: { ...p.inquiry_to_enrolled, rate },
        },
      } as typeof s;
    });
    const [overview] = renderDashboardPages(snapshots, {
      ...options,
      only: (page, scopeId) => page === 'overview' && scopeId === null,
    });
    expect(tile(dom(overview!.html), 'Inquiry → enrolled')).toBe('6.7%');
    const [admissions] = renderDashboardPages(snapshots, {
      ...options,
      only: (page, scopeId) => page === 'admissions' && scopeId === null,
    });
    const doc = dom(admissions!.html);
    expect(tile(doc, 'Inquiry → enrolled')).toBe('6.7%');
    // Beside it, the count it is made of, and what "student records created" counts.
    expect(doc.body.textContent).toContain('51 of 756 inquiries reached the last stage');
    expect(tile(doc, 'Student records created')).toBeDefined();
  });

  it('orders grades as schools do and plots the daily rate over marked days only', () => {
    const doc = dom(find('attendance', null).html);
    const grades = [...doc.querySelectorAll('#attendance-by-grade tbody th')].map(
      (th) => th.textContent,
    );
    expect(grades).toEqual(['Kindergarten', 'Grade 1', 'Grade 2', 'Grade 10']);
    // The fixture's day without attendance has no marked students: no rate, not 0 % — its
    // unmarked days are not absences.
    const rows = [...doc.querySelectorAll('#attendance-daily tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent),
    );
    const untaken = rows.find((cells) => cells[1] === '0')!;
    expect(untaken.slice(1, 4)).toEqual(['0', '0', '0']);
    expect(untaken.at(-1)).toBe('—');
    expect(rows.every((cells) => cells.at(-1) !== '0.0%')).toBe(true);
  });

  it('compares schools on tenant-wide pages and names them safely', () => {
    const doc = dom(find('overview', null).html);
    const rows = [...doc.querySelectorAll('#overview-schools-ada tbody th')].map(
      (c) => c.textContent,
    );
    expect(rows).toEqual(['North Campus', 'School 33333333', 'South <Campus> & Annex']);
    expect(find('overview', null).html).toContain('South &lt;Campus&gt; &amp; Annex');
    expect(find('overview', null).html).not.toContain('South <Campus>');
    const school = dom(find('attendance', NORTH).html);
    expect(school.querySelector('h1')?.textContent).toBe('Attendance · North Campus');
    expect(school.querySelector('#attendance-by-school')).toBeNull();
    expect(school.querySelector('nav a[aria-current=page]')?.getAttribute('href')).toBe(
      `/dashboards/attendance?school=${NORTH}`,
    );
  });

  it('escapes a tenant or school name with markup and quotes wherever a page shows it', () => {
    const hostile = `<script>alert("x")</script> & 'Co'`;
    const rendered = renderDashboardPages(fixtureSnapshots(), {
      ...options,
      tenantName: `Tenant ${hostile}`,
      schools: [{ id: NORTH, name: `North ${hostile}` }, SCHOOLS[1]!],
    });
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;';
    for (const p of rendered) {
      expect(p.html, `${p.page} ${p.scopeId}`).not.toMatch(/<script|alert\("x"\)<|' & 'Co'/);
      expect(p.html).toContain(`Tenant ${escaped}`);
      const doc = dom(p.html);
      expect(doc.querySelectorAll('script')).toHaveLength(0);
      expect(doc.title).toContain(`Tenant ${hostile}`);
      expect(doc.querySelector('header.page p')?.textContent).toContain(`Tenant ${hostile}`);
      if (p.scopeId === NORTH) {
        expect(doc.querySelector('h1')?.textContent).toContain(`North ${hostile}`);
      }
    }
    // In the tables that compare schools, as a cell's text.
    const overview = dom(rendered.find((p) => p.page === 'overview' && !p.scopeId)!.html);
    const names = [...overview.querySelectorAll('#overview-schools-ada tbody th')].map(
      (c) => c.textContent,
    );
    expect(names).toContain(`North ${hostile}`);
  });
});

describe('charts', () => {
  const charts = new ChartRenderer();
  const bars = [
    { label: 'Kindergarten', value: 96.1 },
    { label: 'Grade 1', value: null },
    { label: 'Grade 2', value: 91.25 },
  ];

  it('draws each kind of chart as a stable standalone SVG', async () => {
    await expect(charts.bars('c-bars', 'Bars', bars, 'percent')).toMatchFileSnapshot(
      './__snapshots__/chart-bars.svg',
    );
    await expect(
      charts.columns(
        'c-columns',
        'Columns',
        [
          { label: 'A', value: 3 },
          { label: 'B', value: 0 },
        ],
        'count',
      ),
    ).toMatchFileSnapshot('./__snapshots__/chart-columns.svg');
    await expect(
      charts.trend(
        'c-trend',
        'Trend',
        [
          { date: '2026-01-05', value: 95 },
          { date: '2026-01-06', value: null },
          { date: '2026-01-07', value: 93.5 },
        ],
        'percent',
      ),
    ).toMatchFileSnapshot('./__snapshots__/chart-trend.svg');
    await expect(
      charts.grouped(
        'c-grouped',
        'Grouped',
        [
          { x: 'Jan', series: 'Invoiced', value: 10_000 },
          { x: 'Jan', series: 'Collected', value: 8_000 },
          { x: 'Feb', series: 'Invoiced', value: 12_000 },
          { x: 'Feb', series: 'Collected', value: null },
        ],
        ['Invoiced', 'Collected'],
        'dollars',
      ),
    ).toMatchFileSnapshot('./__snapshots__/chart-grouped.svg');
  });

  it('leaves rows without a value out of the drawing and draws nothing for no values', () => {
    const svg = charts.bars('c', 'Bars', bars, 'percent')!;
    expect(svg.match(/<rect /g)).toHaveLength(2);
    expect(svg).not.toContain('Grade 1');
    expect(charts.bars('c', 'Bars', [{ label: 'x', value: null }], 'rate')).toBeNull();
    expect(charts.trend('c', 'Trend', [], 'percent')).toBeNull();
    const twins = [
      { label: 'North', value: 0.5 },
      { label: 'North', value: 0.25 },
    ];
    const ys = [...charts.bars('c', 'Twins', twins, 'rate')!.matchAll(/<rect [^>]*\by="([^"]+)"/g)];
    expect(new Set(ys.map((m) => m[1])).size).toBe(2);
  });

  it('renumbers generated ids from the chart id, references included', () => {
    const document = new JSDOM('').window.document;
    const clipped = () =>
      (
        Plot.plot({
          document,
          marks: [Plot.lineY([1, 3, 2], { clip: true })],
        }) as unknown as Element
      ).outerHTML;
    const first = clipped();
    const second = clipped();
    expect(first).not.toBe(second);
    expect(first).toMatch(/id="plot-clip-\d+"/);
    const a = stableIds(first, 'fig');
    expect(a).toBe(stableIds(second, 'fig'));
    expect(a).toContain('id="fig-1"');
    expect(a).toContain('url(#fig-1)');
    expect(a).not.toMatch(/plot-clip/);
  });

  it('takes a chart drawn from the same input from the cache, and draws changed input anew', () => {
    const cache = new ChartCache(1024 * 1024);
    const cached = new ChartRenderer(cache);
    const uncached = () => new ChartRenderer(new ChartCache(0));
    const first = cached.bars('c', 'Bars', bars, 'percent');
    expect(cache.size).toBe(1);
    // Same input, a copy of the rows: the same SVG, and nothing new in the cache.
    const again = cached.bars('c', 'Bars', structuredClone(bars), 'percent');
    expect(again).toBe(first);
    expect(cache.size).toBe(1);
    // Every argument is part of the input: another value, title, id or kind is drawn anew.
    const changed = [{ ...bars[0]!, value: 50 }, ...bars.slice(1)];
    const drawn = cached.bars('c', 'Bars', changed, 'percent');
    expect(drawn).toBe(uncached().bars('c', 'Bars', changed, 'percent'));
    expect(drawn).not.toBe(first);
    expect(cached.bars('c', 'Other title', bars, 'percent')).toContain('Other title');
    expect(cached.bars('d', 'Bars', bars, 'percent')).toBe(
      uncached().bars('d', 'Bars', bars, 'percent'),
    );
    expect(cached.bars('c', 'Bars', bars, 'rate')).toBe(uncached().bars('c', 'Bars', bars, 'rate'));
    expect(cache.size).toBe(5);
    // Nothing to draw is remembered too.
    expect(cached.trend('c', 'Trend', [], 'percent')).toBeNull();
    expect(cached.trend('c', 'Trend', [], 'percent')).toBeNull();
    expect(cache.size).toBe(6);
  });

  it('keeps at most its byte budget of charts, the least recently used leaving first', () => {
    const size = new ChartRenderer(new ChartCache(0)).bars('c', 'Bars', bars, 'percent')!.length;
    const cache = new ChartCache(size * 2 + 10);
    const charts = new ChartRenderer(cache);
    const a = charts.bars('a', 'Bars', bars, 'percent')!;
    charts.bars('b', 'Bars', bars, 'percent');
    expect(cache.size).toBe(2);
    expect(charts.bars('a', 'Bars', bars, 'percent')).toBe(a); // a is now the most recent
    charts.bars('c', 'Bars', bars, 'percent'); // evicts b, the least recently used
    expect(cache.size).toBe(2);
    const before = cache.size;
    charts.bars('a', 'Bars', bars, 'percent'); // still cached: no eviction
    expect(cache.size).toBe(before);
    charts.bars('b', 'Bars', bars, 'percent'); // drawn again: evicts c
    expect(cache.size).toBe(2);
    // A chart larger than the whole budget is drawn but not kept.
    const tiny = new ChartCache(10);
    expect(new ChartRenderer(tiny).bars('a', 'Bars', bars, 'percent')).toBe(a);
    expect(tiny.size).toBe(0);
  });

  it('draws the pages through the chart cache it is given, with the same HTML', () => {
    const given = new ChartCache(64 * 1024 * 1024);
    const through = renderDashboardPages(fixtureSnapshots(), { ...options, charts: given });
    expect(through).toEqual(pages);
    const drawn = given.size;
    expect(drawn).toBeGreaterThan(PAGES.length * 4);
    // Rendered again through it: every chart comes from it, nothing is added.
    expect(renderDashboardPages(fixtureSnapshots(), { ...options, charts: given })).toEqual(pages);
    expect(given.size).toBe(drawn);
    // A cache with no room draws every chart, to the same pages; it keeps only the charts
    // with nothing to draw (no bytes).
    const none = new ChartCache(0);
    expect(renderDashboardPages(fixtureSnapshots(), { ...options, charts: none })).toEqual(pages);
    expect(none.size).toBeLessThan(drawn);
  });
});
