import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../api/auth/middleware.js';
import { ControlPlane } from '../../workers/control.js';
import { localLocks } from '../../workers/locks.js';
import { runRefresh } from '../../workers/processors/refresh.js';
import { Staff } from '../api/staff-fixtures.js';
import { ADMIN_PASSWORD, createApiWorld, type ApiWorld } from '../support/api-world.js';
import { recordingLogger } from '../workers/support.js';
import { buildListWorld, type ListWorld } from './list-fixtures.js';

// A person in Debian's Chromium follows a figure to the people behind it: tile → list →
// record, filters the list with the form, downloads the CSV and finds the page's rows in
// it; each kind of page passes axe-core with no serious or critical violation. Signed in
// as leadership (through /login), a school's principal, a teacher and a parent (session
// cookies). Screenshots at 1280 and 390 px go to DASHBOARD_ARTIFACTS (or a temp dir).

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let world: ApiWorld;
let staff: Staff;
let w: ListWorld;
let dir: string;
let artifacts: string;
let browser: Browser;
let base: string;
let axeSource: string;

beforeAll(async () => {
  world = await createApiWorld('dash_lists_browser', { runtimes: ['node'] });
  staff = await Staff.open(world);
  dir = await mkdtemp(join(tmpdir(), 'hr-dash-lists-'));
  artifacts = process.env.DASHBOARD_ARTIFACTS ?? join(dir, 'screenshots');
  await mkdir(artifacts, { recursive: true });
  w = await buildListWorld(staff, world.alpha.id);
  const directory = new ControlPlane(world.t.env);
  try {
    await runRefresh(
      { directory, locks: localLocks(), warehouseDir: dir, log: recordingLogger() },
      { tenantId: world.alpha.id, mode: 'full' },
    );
  } finally {
    await directory.close();
  }
  base = `http://alpha.localhost:${world.targets[0]!.port}`;
  axeSource = await readFile(AXE, 'utf8');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await staff?.close();
  await world?.close();
  if (dir && !process.env.DASHBOARD_ARTIFACTS) await rm(dir, { recursive: true, force: true });
});

async function open(
  as: { userId: string } | 'login',
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  // A role without a password signs in with a session cookie made for it.
  const cookie =
    as === 'login'
      ? undefined
      : `${SESSION_COOKIE}=${await staff.token(world.alpha.id, as.userId, { browser: true })}`;
  const context = await browser.newContext({
    viewport,
    acceptDownloads: true,
    ...(cookie ? { extraHTTPHeaders: { cookie } } : {}),
  });
  const problems: string[] = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`csp violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  if (as === 'login') {
    await page.goto(`${base}/dashboards`);
    await page.fill('input[name=email]', 'admin@alpha.test');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(`${base}/dashboards`), page.click('button[type=submit]')]);
  }
  return { context, page, problems };
}

/** axe-core run in the page (evaluated through the browser tooling, outside the page's CSP). */
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
          ) => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }>;
        };
      }
    ).axe.run(document);
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      n: (v.nodes as { target: string[] }[]).map((x) => x.target.join(' ')).join(', '),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact}: ${v.id} (${v.n})`);
}

const tableRows = (page: Page): Promise<string[][]> =>
  page
    .locator('table.list tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('th,td')].map((c) => c.textContent ?? '')),
    );

async function shots(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth,
  );
  await page.screenshot({ path: join(artifacts, `${name}-390.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  expect(overflow, `${name} scrolls sideways on a phone`).toBeLessThanOrEqual(0);
}

describe('from a figure to the people behind it, in a browser', () => {
  it(
    'leadership: tile → list → record, filter, CSV, sign out; every page type passes axe',
    {
      timeout: 60_000,
    },
    async () => {
      const { context, page, problems } = await open('login');
      try {
        expect(await page.locator('.session').textContent()).toContain('Signed in as');
        expect(await axe(page)).toEqual([]);
        await page.goto(`${base}/dashboards/overview`);
        expect(await page.locator('.session button').textContent()).toBe('Sign out');
        expect(await axe(page)).toEqual([]);
        // The chronic-absence tile names its people.
        await page
          .locator('.tile', { hasText: 'Chronic absence' })
          .getByRole('link', { name: 'Who' })
          .click();
        expect(new URL(page.url()).pathname).toBe('/dashboards/lists/chronic-absence');
        expect((await tableRows(page)).map((r) => r[0])).toEqual(['Absent, Ada', 'South, Sam']);
        expect(await axe(page)).toEqual([]);
        await shots(page, 'list-chronic');

        // Filter: the form's GET puts the state in the URL.
        await page.selectOption('select[name=school]', { label: 'South Campus' });
        await page.click('form.filters button[type=submit]');
        expect(new URL(page.url()).searchParams.get('school')).toBe(w.south);
        expect((await tableRows(page)).map((r) => r[0])).toEqual(['South, Sam']);

        // The CSV holds the page's rows.
        const rows = await tableRows(page);
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click('text=Download CSV'),
        ]);
        const csv: string[][] = parse(await readFile((await download.path())!, 'utf8'));
        expect(csv[0]).toContain('Student');
        expect(csv.slice(1)).toEqual(rows);

        // To the record.
        await page.getByRole('link', { name: 'South, Sam' }).click();
        expect(new URL(page.url()).pathname).toBe(`/dashboards/students/${w.sam}`);
        expect(await page.locator('h1').textContent()).toBe('Sam South');
        expect(await axe(page)).toEqual([]);
        await shots(page, 'student-record');

        // Overdue families, and a family's account.
        await page.goto(`${base}/dashboards/finance`);
        await page
          .locator('.tile', { hasText: 'Outstanding balance' })
          .getByText('over 90')
          .click();
        expect((await tableRows(page)).map((r) => r[0])).toEqual(['South family']);
        await page.getByRole('link', { name: 'South family' }).click();
        expect(await page.locator('h1').textContent()).toBe('South family');
        expect(await axe(page)).toEqual([]);

        // Sign out from a dashboard page.
        await page.goto(`${base}/dashboards/attendance`);
        await Promise.all([page.waitForURL(/\/login/), page.click('.session button')]);
        const again = await page.goto(`${base}/dashboards/lists/failing`);
        expect(again?.status()).toBe(200);
        expect(new URL(page.url()).pathname).toBe('/login');
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
  );

  it('a principal follows their school’s tile to their own students only', async () => {
    const { context, page, problems } = await open(w.principalNorth);
    try {
      await page.goto(`${base}/dashboards/academics?school=${w.north}`);
      await page
        .locator('.tile', { hasText: 'Students failing a class' })
        .getByRole('link', { name: 'Who' })
        .click();
      expect(new URL(page.url()).searchParams.get('school')).toBe(w.north);
      expect((await tableRows(page)).map((r) => r[0])).toEqual(['Risk, Rita', 'Absent, Ada']);
      await page.getByRole('link', { name: 'Absent, Ada' }).first().click();
      expect(await page.locator('h1').textContent()).toBe('Ada Absent');
      // Another school's list, asked for by URL: nobody.
      await page.goto(`${base}/dashboards/lists/chronic-absence?school=${w.south}`);
      expect(await tableRows(page)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a teacher lands on their classes and opens their lists; a parent lands on their child and sees no list', async () => {
    const teacher = await open(w.teacherNorth);
    try {
      const { page } = teacher;
      await page.goto(`${base}/dashboards/lists/missing-work`);
      expect((await tableRows(page)).map((r) => r[0])).toEqual(['Risk, Rita']);
      expect(await page.locator('.session').textContent()).toContain('Teacher');
      await page.getByRole('link', { name: 'Risk, Rita' }).click();
      expect(await page.locator('h1').textContent()).toBe('Rita Risk');
      const other = await page.goto(`${base}/dashboards/students/${w.sam}`);
      expect(other?.status()).toBe(404);
      // Their own day: classes, attendance not taken yet, links to their lists.
      await page.goto(`${base}/home`);
      expect(await page.locator('h2').first().textContent()).toBe('Your classes today');
      expect(await axe(page)).toEqual([]);
      await shots(page, 'teacher-home');
      await page.getByRole('link', { name: 'Students below 60%' }).click();
      expect((await tableRows(page)).map((r) => r[0])).toEqual(['Risk, Rita', 'Absent, Ada']);
    } finally {
      await teacher.context.close();
    }
    const parent = await open(w.parentAda);
    try {
      const { page } = parent;
      await page.goto(`${base}/dashboards/lists/chronic-absence`);
      expect(await tableRows(page)).toEqual([]);
      expect(await page.locator('.session').textContent()).toContain('Signed in as');
      await page.goto(`${base}/home`);
      expect(await page.locator('h2').first().textContent()).toBe('Your children');
      expect(await axe(page)).toEqual([]);
      await shots(page, 'parent-home');
      await page.getByRole('link', { name: 'Ada Absent' }).click();
      expect(await page.locator('h1').textContent()).toBe('Ada Absent');
    } finally {
      await parent.context.close();
    }
  });
});
