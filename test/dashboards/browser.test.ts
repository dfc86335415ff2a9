import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGES } from '../../dashboards/layout.js';
import { ControlPlane } from '../../workers/control.js';
import { localLocks } from '../../workers/locks.js';
import { runRefresh } from '../../workers/processors/refresh.js';
import { buildWorld, rng, type World } from '../analytics/dataset.js';
import { TenantFixture } from '../analytics/world.js';
import { ADMIN_PASSWORD, createApiWorld, type ApiWorld } from '../support/api-world.js';
import { recordingLogger } from '../workers/support.js';

// The dashboards as a person sees them: Debian's Chromium, headless, signs in through the
// /login form and opens every page; no console errors, no CSP violations, charts and tables
// present, nothing wider than a phone screen. Screenshots go to DASHBOARD_ARTIFACTS (or a
// temp dir) for a look.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let world: ApiWorld;
let admin: pg.Client;
let dir: string;
let tenant: World;
let browser: Browser;
let artifacts: string;
let base: string;

beforeAll(async () => {
  world = await createApiWorld('dash_browser', { runtimes: ['node'] });
  dir = await mkdtemp(join(tmpdir(), 'hr-dash-browser-'));
  artifacts = process.env.DASHBOARD_ARTIFACTS ?? join(dir, 'screenshots');
  await mkdir(artifacts, { recursive: true });
  admin = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await admin.connect();
  const alpha = new TenantFixture(
    world.alpha.id,
    world.alpha.rootOrgUnitId,
    world.t.appUrl('pool'),
    dir,
    admin,
  );
  tenant = await buildWorld(alpha, rng(5));
  const directory = new ControlPlane(world.t.env);
  try {
    await runRefresh(
      { directory, locks: localLocks(), warehouseDir: dir, log: recordingLogger() },
      { tenantId: world.alpha.id, mode: 'full' },
    );
  } finally {
    await directory.close();
  }
  // `<slug>.localhost` resolves to loopback in Chromium and names the tenant.
  base = `http://alpha.localhost:${world.targets[0]!.port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await admin?.end().catch(() => undefined);
  await world?.close();
  if (dir && !process.env.DASHBOARD_ARTIFACTS) await rm(dir, { recursive: true, force: true });
});

interface Watch {
  problems: string[];
  requests: string[];
}

/** Records console errors, page errors, CSP violations and every request the page makes. */
async function watch(context: BrowserContext): Promise<{ page: Page; seen: Watch }> {
  const seen: Watch = { problems: [], requests: [] };
  // Init scripts are injected by the browser tooling, outside the page's CSP.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`csp violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      seen.problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => seen.problems.push(`failed: ${r.url()}`));
  page.on('request', (r) => seen.requests.push(r.url()));
  return { page, seen };
}

async function signIn(page: Page): Promise<void> {
  const r = await page.goto(`${base}/dashboards`);
  expect(r?.status()).toBe(200);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('input[name=email]', 'admin@alpha.test');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await Promise.all([
    page.waitForURL(`${base}/dashboards`),
    page.click('button[type=submit], input[type=submit]'),
  ]);
  const cookies = await page.context().cookies();
  expect(cookies.some((c) => c.httpOnly)).toBe(true);
}

/** Opens a page, checks it and saves a screenshot; returns how many charts it drew. */
async function checkPage(page: Page, path: string, shot: string): Promise<number> {
  const r = await page.goto(`${base}${path}`);
  expect(r?.status(), path).toBe(200);
  expect(r?.headers()['content-security-policy']).toContain("default-src 'none'");
  expect(await page.locator('h1').count()).toBe(1);
  expect(await page.locator('text=Data as of').count(), path).toBe(1);
  const report = await page.evaluate(() => {
    const svgs = [...document.querySelectorAll('svg')];
    const figures = [...document.querySelectorAll('figure')];
    return {
      scripts: document.scripts.length,
      charts: document.querySelectorAll('svg[role=img]').length,
      figures: figures.length,
      unlabelled: svgs.filter(
        (s) => s.getAttribute('role') !== 'img' || !s.getAttribute('aria-label'),
      ).length,
      chartsWithoutTable: svgs.filter((s) => !s.closest('figure')?.querySelector('details table'))
        .length,
      // A figure without a chart says why.
      silentFigures: figures.filter((f) => !f.querySelector('svg') && !f.querySelector('.empty'))
        .length,
      // Each chart is laid out with a real size (CSS applied, SVG not blocked).
      tiny: svgs.filter((s) => s.getBoundingClientRect().width < 100).length,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
    };
  });
  expect(report, path).toMatchObject({
    scripts: 0,
    unlabelled: 0,
    chartsWithoutTable: 0,
    silentFigures: 0,
    tiny: 0,
  });
  expect(report.figures, path).toBeGreaterThan(0);
  expect(report.overflow, `${path} is wider than the screen`).toBeLessThanOrEqual(0);
  await page.screenshot({ path: join(artifacts, `${shot}.png`), fullPage: true });
  return report.charts;
}

describe('dashboards in a browser', () => {
  it('signs in with the form, then opens the index and every page, network-wide and for a school', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const { page, seen } = await watch(context);
      await signIn(page);
      const hrefs = await page
        .locator('main a')
        .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      const school = tenant.schools[0]!;
      for (const p of PAGES) {
        expect(hrefs).toContain(`/dashboards/${p}`);
        expect(hrefs).toContain(`/dashboards/${p}?school=${school}`);
      }
      await page.screenshot({ path: join(artifacts, 'index.png'), fullPage: true });
      let charts = 0;
      for (const p of PAGES) {
        charts += await checkPage(page, `/dashboards/${p}`, `${p}-network`);
        charts += await checkPage(page, `/dashboards/${p}?school=${school}`, `${p}-school`);
      }
      expect(charts).toBeGreaterThan(20);
      // Navigating inside a page: the nav links lead to the next page.
      await page.click('nav.pages >> text=Attendance');
      expect(page.url()).toBe(`${base}/dashboards/attendance?school=${school}`);
      expect(seen.problems).toEqual([]);
      // Documents only: nothing else (fonts, images, scripts, styles) was requested.
      for (const url of seen.requests) {
        expect(new URL(url).origin, url).toBe(base);
        expect(new URL(url).pathname, url).toMatch(/^\/(dashboards|login)/);
      }
    } finally {
      await context.close();
    }
  });

  it('fits a phone screen without sideways scrolling', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
    });
    try {
      const { page, seen } = await watch(context);
      await signIn(page);
      for (const p of ['overview', 'attendance', 'finance']) {
        expect(await checkPage(page, `/dashboards/${p}`, `${p}-phone`)).toBeGreaterThan(0);
      }
      expect(seen.problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
