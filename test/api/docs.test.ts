import { JSDOM } from 'jsdom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiTarget } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/** GET /docs on Node and in workerd: the human reference, rendered from /openapi.json. */

const RUNTIMES = ['node', 'workerd'] as const;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

let world: ApiWorld;

beforeAll(async () => {
  world = await createApiWorld('docs_api');
}, 120_000);

afterAll(async () => {
  await world?.close();
});

for (const runtime of RUNTIMES) {
  describe(`GET /docs on ${runtime}`, () => {
    const target = (): ApiTarget => world.targets.find((t) => t.runtime === runtime)!;

    it('documents every operation of /openapi.json, grouped by tag, as script-free HTML', async () => {
      const spec = await call(target(), 'GET', '/openapi.json', { host: 'localhost' });
      expect(spec.status).toBe(200);
      const r = await call(target(), 'GET', '/docs', { host: 'localhost' });
      expect(r.status, r.text).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['content-security-policy']).toBe(
        "default-src 'none'; style-src 'unsafe-inline'",
      );
      const doc = new JSDOM(r.text).window.document;
      expect(doc.querySelectorAll('script, link[rel=stylesheet], img, iframe')).toHaveLength(0);

      const operations = Object.entries(
        spec.json.paths as Record<string, Record<string, { tags?: string[] }>>,
      ).flatMap(([path, item]) =>
        METHODS.filter((m) => item[m]).map((m) => ({
          method: m,
          path,
          tag: item[m]!.tags?.[0] ?? 'Other',
        })),
      );
      const rendered = [...doc.querySelectorAll('section.op h3')].map((h) =>
        h.textContent!.replace(/\s+/g, ' ').trim(),
      );
      expect(rendered.sort()).toEqual(
        operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort(),
      );
      const tags = [...doc.querySelectorAll('main > section[id^="tag-"] > h2')].map(
        (h) => h.textContent,
      );
      expect(tags).toEqual(
        [...new Set(operations.map((o) => o.tag))].sort((a, b) => a.localeCompare(b)),
      );
      // Every link inside the page leads somewhere on it.
      for (const a of doc.querySelectorAll('a[href^="#"]')) {
        expect(
          doc.getElementById(a.getAttribute('href')!.slice(1)),
          a.getAttribute('href')!,
        ).not.toBeNull();
      }
    });

    it('shows parameters, body and response schemas, and problem responses', async () => {
      const r = await call(target(), 'GET', '/docs', { host: 'alpha.test' });
      const doc = new JSDOM(r.text).window.document;
      const leads = doc.getElementById('op-get-v1-leads')!;
      expect(leads.textContent).toContain('List admissions leads');
      const params = [...leads.querySelectorAll('tbody tr td:first-child code')].map(
        (c) => c.textContent,
      );
      expect(params).toEqual(
        expect.arrayContaining(['stage', 'source', 'school_id', 'q', 'limit', 'cursor']),
      );
      expect(leads.querySelector('a[href="#schema-leadpage"]')?.textContent).toBe('LeadPage');
      expect([...leads.querySelectorAll('ul.problems li code')].map((c) => c.textContent)).toEqual([
        '400',
        '401',
        '403',
      ]);

      const create = doc.getElementById('op-post-v1-platform-tenants')!;
      expect(create.textContent).toContain('Create a tenant');
      expect(create.querySelector('a[href="#schema-platformtenantcreate"]')).not.toBeNull();
      expect(create.querySelector('a[href="#schema-platformtenantcreated"]')).not.toBeNull();
      const schema = doc.getElementById('schema-platformtenantcreate')!;
      expect(schema.textContent).toMatch(/placement/);
      expect(schema.textContent).toMatch(/"pool" \| "dedicated"/);
      // Public operations say so.
      expect(doc.getElementById('op-get-v1-public-profile')!.textContent).toContain('None: public');
    });
  });
}
