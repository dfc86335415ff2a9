import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDomain } from '../../db/platform.js';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * GET /v1/public/forms/inquiry: the form a school's site embeds. Over HTTP on Node and in
 * workerd (escaping, CSP, tenants apart), then in Debian's headless Chromium: framed by the
 * school's verified site it runs under its strict CSP and files the inquiry end to end;
 * framed by anyone else it does not render; copied into the site's page its script fills
 * the attribution from the page's address.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SITE = 'www.alpha-site.localhost';

let world: ApiWorld;
let db: pg.Client;
let north = '';
let site: http.Server;
let sitePort = 0;
let copied = '';

beforeAll(async () => {
  world = await createApiWorld('pubembed', {
    vars: { PUBLIC_RATE_LIMIT: '100000', METRICS_QUEUE: `test-${randomUUID()}` },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  const school = async (tenantId: string, parent: string, name: string, grades: string) =>
    (
      await db.query<{ id: string }>(
        `insert into org_units (tenant_id, parent_id, kind, name, code, grade_levels, status, enrollment_open)
         values ($1, $2, 'school', $3, $4, $5, 'active', true) returning id`,
        [tenantId, parent, name, `C-${randomUUID().slice(0, 6)}`, grades],
      )
    ).rows[0]!.id;
  north = await school(world.alpha.id, world.alpha.rootOrgUnitId, 'Alpha North', '{K,1,2}');
  await school(world.beta.id, world.beta.rootOrgUnitId, 'Beta Prep', '{9,10}');
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: SITE,
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'www.alpha-claimed.test',
    purpose: 'site',
    actor: 'test',
  });

  // The school's own website (and, under another name, someone else's).
  site = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const api = `http://alpha.localhost:${world.targets[0]!.port}`;
    const send = (body: string) =>
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    if (url.pathname === '/embed') {
      const thanks = encodeURIComponent(`http://${SITE}:${sitePort}/thanks`);
      const redirect = url.searchParams.has('stay') ? '' : `&redirect=${thanks}`;
      return send(
        `<!doctype html><title>Apply</title><h1>Apply to Alpha</h1>
<iframe title="Inquiry" style="width:100%;height:900px" src="${api}/v1/public/forms/inquiry?utm_source=newsletter&utm_campaign=fall${redirect}"></iframe>`,
      );
    }
    if (url.pathname === '/favicon.ico') return res.writeHead(204).end();
    if (url.pathname === '/apply') return send(`<!doctype html><title>Apply</title>${copied}`);
    if (url.pathname === '/thanks')
      return send('<!doctype html><title>Thanks</title><h1>Thanks!</h1>');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  sitePort = (site.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await new Promise((r) => site?.close(r));
  await db?.end();
  await world?.close();
});

const get = (target: ApiTarget, query = '', host = 'alpha.test') =>
  call(target, 'GET', `/v1/public/forms/inquiry${query}`, { host });

const cspOf = (r: ApiResponse) => String(r.headers['content-security-policy'] ?? '');

for (const runtime of ['node', 'workerd'] as const) {
  describe(`the embeddable inquiry form on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('serves the school’s form under a strict CSP whose nonce is the script’s and style’s', async () => {
      const r = await get(target());
      expect(r.status, r.text).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      const csp = cspOf(r);
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce).toBeTruthy();
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain(`style-src 'nonce-${nonce}'`);
      expect(csp).toMatch(/form-action 'self' [^;]*http:\/\/www\.alpha-site\.localhost:\*/);
      expect(csp).toMatch(/frame-ancestors [^;]*http:\/\/www\.alpha-site\.localhost:\*/);
      expect(csp).not.toContain('alpha-claimed'); // claimed, not verified
      expect(csp).not.toContain('beta');
      expect(r.text).toContain(`<script nonce="${nonce}">`);
      expect(r.text).toContain(`<style nonce="${nonce}">`);
      expect(r.text.match(/<script/g)).toHaveLength(1);
      expect(r.text).toContain('action="http://alpha.test/v1/public/inquiries"');
      expect(r.text).toMatch(
        new RegExp(`<option\\s+value="${north}"\\s*>\\s*Alpha North\\s*</option>`),
      );
      expect(r.text).toMatch(/<option value="K">\s*Kindergarten\s*<\/option>/);
      expect(r.text).not.toContain('Beta Prep');
      expect(r.text).toMatch(/<label for="hr-email">/);
      expect(r.text).toMatch(/name="consent"[^>]*required/);
      // A fresh nonce every time.
      const again = await get(target());
      expect(cspOf(again)).not.toContain(`'nonce-${nonce}'`);
    });

    it('puts query parameters into hidden fields, escaped', async () => {
      const evil = '"><script>alert(1)</script>';
      const r = await get(
        target(),
        `?utm_source=${encodeURIComponent(evil)}&utm_medium=email&school_id=${north}`,
      );
      expect(r.status, r.text).toBe(200);
      expect(r.text).not.toContain('<script>alert(1)');
      expect(r.text).toContain(
        'name="utm_source" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"',
      );
      expect(r.text).toContain('name="utm_medium" value="email"');
      expect(r.text).toMatch(new RegExp(`<option\\s+value="${north}"\\s+selected\\s*>`));
    });

    it('sends the family on to the site’s own thank-you page only', async () => {
      const ok = await get(target(), `?redirect=${encodeURIComponent(`https://${SITE}/thanks`)}`);
      expect(ok.status, ok.text).toBe(200);
      expect(ok.text).toContain(`name="redirect" value="https://${SITE}/thanks"`);
      expect(ok.text).toContain('target="_top"');
      for (const redirect of [
        'https://evil.test/',
        '//evil.test/',
        'https://www.alpha-claimed.test/',
      ]) {
        const r = await get(target(), `?redirect=${encodeURIComponent(redirect)}`);
        expect(r.status, redirect).toBe(400);
        expect(r.json.invalid_params[0].name).toBe('query.redirect');
      }
    });

    it('keeps tenants apart and serves no unproven domain', async () => {
      const beta = await get(target(), '', 'beta.test');
      expect(beta.status).toBe(200);
      expect(beta.text).toContain('Beta Prep');
      expect(beta.text).not.toContain('Alpha North');
      expect((await get(target(), `?school_id=${north}`, 'beta.test')).status).toBe(422);
      expect((await get(target(), '', 'www.alpha-claimed.test')).status).toBe(404);
    });
  });
}

describe('the embedded form in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    // The form as a site copies it: fetched once, without attribution values.
    const r = await get(world.targets[0]!, '', `alpha.localhost:${world.targets[0]!.port}`);
    copied = /<form[\s\S]*<\/script>/.exec(r.text)![0];
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`csp violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    return { context, page, problems };
  }

  async function leadOf(email: string) {
    const r = await db.query(
      `select l.stage, l.school_id, l.grade_interest, l.consent, t.utm_source, t.utm_campaign,
              t.landing_page
         from leads l join lead_touchpoints t on t.lead_id = l.id where l.email = $1`,
      [email],
    );
    return r.rows;
  }

  it('files an inquiry from the school’s site through the framed form and lands on the site’s thank-you page', async () => {
    const { context, page, problems } = await open();
    try {
      await page.goto(`http://${SITE}:${sitePort}/embed`);
      const frame = page.frameLocator('iframe');
      await frame.locator('#hr-guardian').fill('Rosa Díaz');
      const email = `embed.${randomUUID().slice(0, 8)}@example.org`;
      await frame.locator('#hr-email').fill(email);
      await frame.locator('#hr-school').selectOption(north);
      await frame.getByLabel('Grade of interest').selectOption('K');
      await frame.locator('input[name=consent]').check();
      // The inline script ran under the CSP: a fresh idempotency key.
      expect(await frame.locator('input[name=idempotency_key]').inputValue()).toMatch(
        /^[0-9a-f-]{36}$/,
      );
      await Promise.all([
        page.waitForURL(`http://${SITE}:${sitePort}/thanks`),
        frame.getByRole('button', { name: 'Send inquiry' }).click(),
      ]);
      expect(await page.locator('h1').textContent()).toBe('Thanks!');
      expect(await leadOf(email)).toEqual([
        {
          stage: 'inquiry',
          school_id: north,
          grade_interest: 'K',
          consent: true,
          utm_source: 'newsletter',
          utm_campaign: 'fall',
          landing_page: null,
        },
      ]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows the thank-you page inside the frame when the site names none', async () => {
    const { context, page, problems } = await open();
    try {
      await page.goto(`http://${SITE}:${sitePort}/embed?stay=1`);
      const frame = page.frameLocator('iframe');
      await frame.locator('#hr-guardian').fill('Lee Chen');
      await frame.locator('#hr-email').fill(`stay.${randomUUID().slice(0, 8)}@example.org`);
      await frame.locator('input[name=consent]').check();
      await frame.getByRole('button', { name: 'Send inquiry' }).click();
      await expect
        .poll(() =>
          frame
            .locator('[role=status]')
            .textContent()
            .catch(() => ''),
        )
        .toMatch(/Thank you/);
      expect(page.url()).toBe(`http://${SITE}:${sitePort}/embed?stay=1`);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('does not render inside a page of any other site', async () => {
    const { context, page, problems } = await open();
    try {
      await page.goto(`http://evil.localhost:${sitePort}/embed`);
      await page.waitForLoadState('load');
      const frame = page.frames().find((f) => f !== page.mainFrame());
      const forms = frame
        ? await frame
            .locator('#hr-inquiry')
            .count()
            .catch(() => 0)
        : 0;
      expect(forms).toBe(0);
      void problems;
    } finally {
      await context.close();
    }
  });

  it('fills the attribution from the page’s own address when the form is copied into the site', async () => {
    const { context, page, problems } = await open();
    try {
      const landing = `http://${SITE}:${sitePort}/apply?utm_source=flyer&utm_campaign=spring`;
      await page.goto(landing);
      const email = `copied.${randomUUID().slice(0, 8)}@example.org`;
      await page.locator('#hr-guardian').fill('Sam Ortiz');
      await page.locator('#hr-email').fill(email);
      await page.locator('input[name=consent]').check();
      await Promise.all([
        page.waitForURL(/\/v1\/public\/inquiries$/),
        page.getByRole('button', { name: 'Send inquiry' }).click(),
      ]);
      expect(await page.locator('[role=status]').textContent()).toMatch(/Thank you/);
      expect(await leadOf(email)).toEqual([
        expect.objectContaining({
          utm_source: 'flyer',
          utm_campaign: 'spring',
          landing_page: landing,
        }),
      ]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
