import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { call, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { renderDocs } from '../../api/routes/docs.js';

/** GET /docs on Node and in workerd: the human reference, rendered from /openapi.json. */

const RUNTIMES = ['node', 'workerd'] as const;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

interface DocOperation {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { example?: unknown }> };
  responses: Record<string, { headers?: Record<string, unknown> }>;
}

/** Every operation of an OpenAPI document with its method and path. */
function operationsOf(spec: { paths: Record<string, Record<string, DocOperation>> }) {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method]! })),
  );
}

const h = await Harness.init('docs_api');

for (const runtime of RUNTIMES) {
  describe(`GET /docs on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);

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

    it('gives every operation a unique operationId and every request body an example', async () => {
      const spec = (await call(target(), 'GET', '/openapi.json', { host: 'localhost' })).json;
      const ops = operationsOf(spec);
      expect(ops.length).toBeGreaterThan(100);
      const ids = ops.map((o) => o.op.operationId);
      for (const [i, id] of ids.entries())
        expect(id, `${ops[i]!.method} ${ops[i]!.path}`).toMatch(/^[a-z][A-Za-z]+$/);
      expect(new Set(ids).size).toBe(ids.length);
      // Generated resource routes are named after their URL, hand-written ones by their route.
      const id = (method: string, path: string) =>
        ops.find((o) => o.method === method && o.path === path)?.op.operationId;
      expect(id('get', '/v1/students')).toBe('listStudents');
      expect(id('post', '/v1/invoices')).toBe('createInvoice');
      expect(id('get', '/v1/org-units/{id}')).toBe('getOrgUnit');
      expect(id('get', '/v1/staff')).toBe('listStaff');
      expect(id('patch', '/v1/esa/applications/{id}')).toBe('updateEsaApplication');
      expect(id('delete', '/v1/classes/{id}')).toBe('deleteClass');
      expect(id('post', '/v1/public/inquiries')).toBe('createInquiry');

      const bodies = ops.filter((o) => o.op.requestBody);
      expect(bodies.length).toBeGreaterThan(40);
      for (const { method, path, op } of bodies) {
        for (const [type, media] of Object.entries(op.requestBody!.content)) {
          expect(media.example, `${method} ${path} ${type}`).toBeDefined();
        }
      }
      const inquiry = ops.find((o) => o.op.operationId === 'createInquiry')!.op;
      expect(inquiry.requestBody!.content['application/json']!.example).toMatchObject({
        email: 'maria@example.com',
        consent: true,
      });
    });

    it('declares servers, both security schemes and the headers every client meets', async () => {
      const spec = (await call(target(), 'GET', '/openapi.json', { host: 'localhost' })).json;
      expect(spec.servers[0]).toMatchObject({
        url: 'https://{tenantHost}',
        variables: { tenantHost: { default: expect.any(String) } },
      });
      expect(spec.components.securitySchemes).toEqual({
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        browserSession: expect.objectContaining({
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-homeroom_session',
        }),
      });
      const ops = operationsOf(spec);
      const security = (id: string) => ops.find((o) => o.op.operationId === id)!.op.security;
      expect(security('getDashboard')).toEqual([{ bearer: [] }, { browserSession: [] }]);
      expect(security('listDashboards')).toEqual([{ bearer: [] }, { browserSession: [] }]);
      expect(security('listStudents')).toBeUndefined(); // the document's default: bearer only
      expect(spec.security).toEqual([{ bearer: [] }]);
      expect(security('getPublicProfile')).toEqual([]);

      for (const { method, path, op } of ops) {
        for (const [status, response] of Object.entries(op.responses)) {
          const where = `${method} ${path} ${status}`;
          expect(response.headers?.['x-request-id'], where).toEqual({
            $ref: '#/components/headers/RequestId',
          });
          if (status === '429' || status === '503')
            expect(response.headers?.['Retry-After'], where).toEqual({
              $ref: '#/components/headers/RetryAfter',
            });
        }
        expect(op.responses['503'], `${method} ${path}`).toBeDefined();
      }
      expect(spec.components.headers.RequestId.schema).toEqual({ type: 'string' });
      for (const id of ['createInquiry', 'createTourRequest', 'createPayment']) {
        const created = ops.find((o) => o.op.operationId === id)!.op.responses['201']!;
        expect(created.headers?.['Idempotency-Replayed'], id).toBeDefined();
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
        '503',
      ]);

      const create = doc.getElementById('op-post-v1-platform-tenants')!;
      expect(create.textContent).toContain('Create a tenant');
      expect(create.querySelector('a[href="#schema-platformtenantcreate"]')).not.toBeNull();
      expect(create.querySelector('a[href="#schema-platformtenantcreated"]')).not.toBeNull();
      const schema = doc.getElementById('schema-platformtenantcreate')!;
      expect(schema.textContent).toMatch(/placement/);
      expect(schema.textContent).toMatch(/"pool" \| "dedicated"/);
      // Public operations say so; the dashboards name the browser session beside the token.
      expect(doc.getElementById('op-get-v1-public-profile')!.textContent).toContain('None: public');
      expect(doc.getElementById('op-get-dashboards-page')!.textContent).toContain(
        'or the browser session cookie set by /login',
      );
      expect(doc.getElementById('op-get-v1-students')!.textContent).not.toContain('cookie');
    });
  });
}

describe('the reference page', () => {
  it('escapes markup and quotes from the document, in text and in code spans', () => {
    const hostile = `<script>alert("x")</script> & 'y'`;
    const page = renderDocs({
      info: { title: `API ${hostile}`, version: '1', description: `Use \`<b>"q"</b>\` ${hostile}` },
      paths: {
        '/v1/things/{id}': {
          get: {
            tags: [`Things ${hostile}`],
            summary: `Get a thing ${hostile}`,
            parameters: [
              { name: `id"><script>`, in: 'path', required: true, schema: { type: 'string' } },
            ],
            responses: {
              '200': {
                description: hostile,
                content: { 'application/json': { schema: { enum: [hostile] } } },
              },
            },
          },
        },
      },
      components: { schemas: { Thing: { type: 'object', description: hostile, properties: {} } } },
    });
    expect(page).not.toMatch(/<script|<b>/);
    const doc = new JSDOM(page).window.document;
    expect(doc.querySelectorAll('script, b')).toHaveLength(0);
    expect(doc.title).toBe(`API ${hostile} 1 — reference`);
    expect(doc.querySelector('h1')?.textContent).toBe(`API ${hostile} 1`);
    // A code span keeps its text, escaped, inside <code>.
    expect(doc.querySelector('main > p > code')?.textContent).toBe('<b>"q"</b>');
    const op = doc.getElementById('op-get-v1-things-id')!;
    expect(op.querySelector('.summary')?.textContent).toBe(`Get a thing ${hostile}`);
    expect(op.querySelector('tbody td code')?.textContent).toBe(`id"><script>`);
    expect([...op.querySelectorAll('code')].map((c) => c.textContent)).toContain(
      JSON.stringify(hostile),
    );
    expect(doc.querySelector('section[id^="tag-"] > h2')?.textContent).toBe(`Things ${hostile}`);
    expect(doc.getElementById('schema-thing')?.querySelector('p')?.textContent).toBe(hostile);
  });
});
