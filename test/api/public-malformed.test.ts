import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * docs/tenancy-and-security.md#errors on the public writes: malformed input of any kind gets a 4xx
 * problem — never a 5xx, never a stack trace — and writes nothing. On Node and in workerd.
 */

let world: ApiWorld;
let db: pg.Client;

beforeAll(async () => {
  world = await createApiWorld('pubbad', {
    vars: { PUBLIC_RATE_LIMIT: '100000', METRICS_QUEUE: `test-${randomUUID()}` },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

const PATHS = ['/v1/public/inquiries', '/v1/public/tours'] as const;

function valid(overrides: Record<string, unknown> = {}) {
  return {
    guardian_name: 'Lee Chen',
    email: `bad.${randomUUID().slice(0, 8)}@example.org`,
    consent: true,
    ...overrides,
  };
}

async function leadCount(): Promise<number> {
  const r = await db.query<{ n: number }>(
    `select count(*)::int n from leads where tenant_id = $1`,
    [world.alpha.id],
  );
  return r.rows[0]!.n;
}

function expectCleanProblem(r: ApiResponse, label: string, status?: number) {
  expect(r.status, `${label}: ${r.text}`).toBeGreaterThanOrEqual(400);
  expect(r.status, `${label}: ${r.text}`).toBeLessThan(500);
  if (status) expect(r.status, label).toBe(status);
  expect(r.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  expect(r.json, label).toMatchObject({ type: expect.any(String), title: expect.any(String) });
  expect(r.json.status, label).toBe(r.status);
  expect(r.headers['x-request-id'], label).toBeTruthy();
  // No stack frames, source paths or driver messages leak to the client.
  expect(r.text, label).not.toMatch(/\s+at\s|\.ts:\d|\.js:\d|node_modules|postgres|syntax error/i);
}

const raw = (target: ApiTarget, path: string, body: string | Buffer, contentType: string) =>
  call(target, 'POST', path, {
    host: 'alpha.test',
    rawBody: body,
    headers: { 'content-type': contentType },
  });

/**
 * One request over a raw socket: fetch and node:http refuse to send a Host like `a, b`, and
 * the adapters must still answer it.
 */
function rawRequest(target: ApiTarget, method: string, path: string, host: string) {
  return new Promise<ApiResponse>((resolve, reject) => {
    const socket = net.connect(target.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = rest.join('\r\n\r\n');
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        let out = '';
        for (let at = 0; ;) {
          const eol = body.indexOf('\r\n', at);
          const size = parseInt(body.slice(at, eol), 16);
          if (!size) break;
          out += body.slice(eol + 2, eol + 2 + size);
          at = eol + 2 + size + 2;
        }
        body = out;
      }
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text: body, json });
    });
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`malformed public input on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('refuses malformed JSON with 400', async () => {
      const before = await leadCount();
      for (const path of PATHS) {
        for (const body of ['{"email":', '{', 'nul', "{'a':1}", '{"a":1}}', '', '\u0000']) {
          const r = await raw(target(), path, body, 'application/json');
          expectCleanProblem(r, `${path} ${JSON.stringify(body)}`, 400);
        }
        const bytes = await raw(
          target(),
          path,
          Buffer.from([0xff, 0xfe, 0x7b, 0x00]),
          'application/json',
        );
        expectCleanProblem(bytes, `${path} binary`, 400);
      }
      expect(await leadCount()).toBe(before);
    });

    it('refuses JSON that is not an object, and wrong types, with field errors', async () => {
      const before = await leadCount();
      const bodies: unknown[] = [
        [],
        [valid()],
        'inquiry',
        42,
        null,
        true,
        valid({ email: 123 }),
        valid({ email: ['a@b.co'] }),
        valid({ consent: 'true' }),
        valid({ consent: 1 }),
        valid({ guardian_name: { first: 'Lee' } }),
        valid({ guardian_name: null }),
        valid({ message: ['hi'] }),
        valid({ phone: 5550100199 }),
        valid({ school_id: 5 }),
        valid({ utm_source: { $ne: null } }),
        valid({ preferred_times: { date: '2030-01-01' } }),
        valid({ preferred_times: [null] }),
        valid({ website: 12 }),
        {},
      ];
      for (const path of PATHS) {
        for (const body of bodies) {
          const r = await call(target(), 'POST', path, { host: 'alpha.test', body });
          expectCleanProblem(r, `${path} ${JSON.stringify(body)}`, 400);
          expect(r.json.type).toMatch(/validation_failed$/);
        }
      }
      expect(await leadCount()).toBe(before);
    });

    it('refuses huge strings within the body limit', async () => {
      const before = await leadCount();
      const cases = [
        valid({ guardian_name: 'a'.repeat(10_000) }),
        valid({ email: `${'a'.repeat(300)}@example.org` }),
        valid({ message: 'x'.repeat(2001) }),
        valid({ utm_campaign: 'c'.repeat(201) }),
        valid({ landing_page: `https://a.test/${'p'.repeat(3000)}` }),
        valid({ grade_interest: '1'.repeat(17) }),
        valid({ phone: '1'.repeat(40) }),
      ];
      for (const path of PATHS) {
        for (const body of cases) {
          const r = await call(target(), 'POST', path, { host: 'alpha.test', body });
          expectCleanProblem(r, `${path} ${Object.keys(body).join()}`, 400);
        }
      }
      expect(await leadCount()).toBe(before);
    });

    it('refuses content types other than JSON and forms with 415', async () => {
      const body = JSON.stringify(valid());
      for (const path of PATHS) {
        for (const type of ['text/plain', 'application/xml', 'application/json-seq', '']) {
          const r = await raw(target(), path, body, type);
          expectCleanProblem(r, `${path} ${type}`, 415);
        }
      }
    });

    it('refuses JSON sent as a form, and malformed forms, with 400', async () => {
      const before = await leadCount();
      const json = JSON.stringify(valid());
      for (const path of PATHS) {
        for (const [body, type] of [
          [json, 'application/x-www-form-urlencoded'],
          [json, 'multipart/form-data; boundary=x'],
          ['--x\r\nContent-Disposition: form-data\r\n\r\n', 'multipart/form-data; boundary=x'],
          ['%zz=%zz&consent', 'application/x-www-form-urlencoded'],
        ] as const) {
          const r = await raw(target(), path, body, type);
          expectCleanProblem(r, `${path} ${type} ${body}`, 400);
        }
        const none = await call(target(), 'POST', path, { host: 'alpha.test' });
        expectCleanProblem(none, `${path} no body`, 400);
      }
      expect(await leadCount()).toBe(before);
    });

    it('refuses invalid UUIDs and injection attempts as school_id', async () => {
      for (const path of PATHS) {
        for (const id of [
          'abc',
          '00000000-0000-0000-0000-00000000000g',
          "1' OR '1'='1",
          `${randomUUID()}x`,
          ' '.repeat(36),
          '{00000000-0000-0000-0000-000000000000}',
        ]) {
          const r = await call(target(), 'POST', path, {
            host: 'alpha.test',
            body: valid({ school_id: id }),
          });
          expectCleanProblem(r, `${path} ${id}`, 400);
          expect(r.json.invalid_params.map((p: { name: string }) => p.name)).toContain(
            'json.school_id',
          );
        }
      }
    });

    it('refuses null bytes, control characters and lone surrogates in any text field', async () => {
      const before = await leadCount();
      const fields = [
        'guardian_name',
        'email',
        'phone',
        'student_first_name',
        'grade_interest',
        'message',
        'utm_source',
        'utm_medium',
        'utm_campaign',
        'utm_term',
        'utm_content',
        'referrer',
        'landing_page',
      ];
      for (const path of PATHS) {
        for (const field of fields) {
          for (const bad of ['a\u0000b', 'a\u0007b', '\u001b[31mred']) {
            const r = await call(target(), 'POST', path, {
              host: 'alpha.test',
              body: valid({ [field]: bad }),
            });
            expectCleanProblem(r, `${path} ${field} ${JSON.stringify(bad)}`, 400);
          }
          // A lone surrogate, which PostgreSQL would refuse inside jsonb.
          const r = await raw(
            target(),
            path,
            JSON.stringify(valid())
              .replace(/}$/, `,"${field}":"x\\ud800y"}`)
              .replace(new RegExp(`"${field}":"[^"]*",`), ''),
            'application/json',
          );
          expectCleanProblem(r, `${path} ${field} lone surrogate`, 400);
        }
        // Newlines are fine in a message, not in a name.
        const name = await call(target(), 'POST', path, {
          host: 'alpha.test',
          body: valid({ guardian_name: 'Lee\nChen' }),
        });
        expectCleanProblem(name, `${path} newline in name`, 400);
      }
      expect(await leadCount()).toBe(before);
    });

    it('refuses prototype keys, unknown fields and absurd nesting without a 5xx', async () => {
      for (const path of PATHS) {
        const proto = await raw(
          target(),
          path,
          JSON.stringify(valid()).replace(/}$/, ',"__proto__":{"admin":true}}'),
          'application/json',
        );
        expectCleanProblem(proto, `${path} __proto__`, 400);
        const nested = await raw(
          target(),
          path,
          `{"message":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
          'application/json',
        );
        expectCleanProblem(nested, `${path} nesting`, 400);
        const withKey = await call(target(), 'POST', path, {
          host: 'alpha.test',
          rawBody: `{"message":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
          headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        });
        expectCleanProblem(withKey, `${path} nesting with key`, 400);
        const dup = await raw(
          target(),
          path,
          JSON.stringify(valid()).replace(/}$/, ',"consent":false}'),
          'application/json',
        );
        expectCleanProblem(dup, `${path} duplicate key`, 400);
      }
    });

    it('answers unknown methods and paths under /v1/public with a problem', async () => {
      for (const [method, path] of [
        ['PUT', '/v1/public/inquiries'],
        ['DELETE', '/v1/public/tours'],
        ['GET', '/v1/public/inquiries'],
        ['POST', '/v1/public/nope'],
        ['POST', '/v1/public/inquiries/%E0%A4%A'],
      ] as const) {
        const r = await call(target(), method, path, { host: 'alpha.test', body: valid() });
        expectCleanProblem(r, `${method} ${path}`);
      }
    });

    // Node only: workerd itself refuses such a Host (a bare 500 from its HTTP layer, before
    // the Worker runs, so no app code can answer it); Cloudflare's edge refuses it with 400.
    it.runIf(runtime === 'node')('answers a malformed Host header with a problem', async () => {
      for (const host of ['a.example, b.example', 'x@y', 'host:abc', '%00', 'alpha.test:99999']) {
        const r = await rawRequest(target(), 'GET', '/v1/public/profile', host);
        expectCleanProblem(r, `Host: ${host}`);
      }
      // A request Node's own HTTP parser refuses (a control character in a header value).
      const bad = await rawRequest(target(), 'GET', '/v1/public/profile', 'alpha.test\x01');
      expectCleanProblem(bad, 'control character in Host', 400);
      // Control case: the same raw request with a good Host reaches the tenant.
      const ok = await rawRequest(target(), 'GET', '/v1/public/profile', 'alpha.test');
      expect(ok.status, ok.text).toBe(200);
    });

    it('still accepts ordinary non-ASCII text (control case)', async () => {
      const body = valid({
        guardian_name: 'Zoë Ñúñez-Øberg 李',
        message: 'Bonjour 👋\nÀ bientôt',
        student_first_name: 'Chloé',
      });
      for (const path of PATHS) {
        const r = await call(target(), 'POST', path, { host: 'alpha.test', body });
        expect(r.status, r.text).toBe(201);
      }
      const r = await db.query(`select guardian_name from leads where lower(email) = lower($1)`, [
        body.email,
      ]);
      expect(r.rows).toEqual([{ guardian_name: 'Zoë Ñúñez-Øberg 李' }]);
    });
  });
}
