import { afterAll, describe, expect, it } from 'vitest';
import { newApp } from '../../api/app.js';
import type { Services } from '../../api/services.js';
import { createLogger, type Logger } from '../../db/log.js';
import { call, startWorkerdApi } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { eventually, expectProblem } from '../support/staff.js';

/**
 * What operators see: one access-log line per request (route template, never the raw path
 * or query) and the process's counters at `GET /metrics` for a scraper holding METRICS_TOKEN.
 */

const TOKEN = 'scrape-token-0123456789abcdef';
const STUDENT = '0b6f1c2e-8d3a-4c1b-9e2f-5a7d9c3b1e40';

/** The Prometheus text exposition grammar (0.0.4), line by line. */
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const EXPOSITION_LINE = new RegExp(
  `^(# HELP ${NAME} .*|# TYPE ${NAME} (counter|gauge|histogram|summary|untyped)|` +
    `${NAME}(\\{[^}]*\\})? (-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?|NaN|[+-]Inf)( -?\\d+)?)$`,
);

function parseExposition(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    expect(line).toMatch(EXPOSITION_LINE);
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) typed.add(type[1]!);
    if (line.startsWith('#')) continue;
    const [name, value] = line.split(' ');
    expect(typed.has(name!), `${name} has a TYPE line before its sample`).toBe(true);
    samples.set(name!, Number(value));
  }
  return samples;
}

const h = await Harness.init('observability', {
  runtimes: ['node'],
  vars: { METRICS_TOKEN: TOKEN, LOGIN_RATE_LIMIT: '2' },
});
const { alpha } = h.tenants;
const node = h.target('node');
// Its own workerd, logging at info (the access log is an info line), which wrangler shows.
const workerd = await h.setup(() =>
  startWorkerdApi({ ...h.world.vars, LOG_LEVEL: 'info' }, { wranglerLogLevel: 'log' }),
);
afterAll(() => workerd.close());

/** The Node app over the world's services, logging into `lines`. */
function recordingApp(): {
  lines: Record<string, unknown>[];
  log: Logger;
  app: ReturnType<typeof newApp>;
} {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', {}, (line) => lines.push(JSON.parse(line)));
  const services: Services = { ...node.services!, log };
  return { lines, log, app: newApp({ services: () => services }) };
}

const accessLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'request');

/** The access line of the unauthenticated student read: its template, never the id or query. */
function expectStudentReadLine(line: Record<string, unknown>, requestId: string): void {
  expect(line).toMatchObject({
    level: 'info',
    method: 'GET',
    route: '/v1/students/:id',
    status: 401,
    tenant_id: alpha.id,
    tenant_slug: 'alpha',
    request_id: requestId,
  });
  expect(typeof line.duration_ms).toBe('number');
  expect(line.duration_ms as number).toBeGreaterThanOrEqual(0);
  const text = JSON.stringify(line);
  expect(text).not.toContain('Secret');
  expect(text).not.toContain(STUDENT);
  expect(text).not.toContain('?');
}

/** The JSON log lines of a process's output (other lines are passed over). */
function jsonLines(output: string): Record<string, unknown>[] {
  // eslint-disable-next-line no-control-regex -- wrangler colours its lines
  return output
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .flatMap((raw) => {
      const at = raw.indexOf('{');
      if (at < 0) return [];
      try {
        return [JSON.parse(raw.slice(at)) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

describe('access log', () => {
  it('writes one line per request with the route template, status, duration, tenant and request id, never the query string', async () => {
    const { lines, app } = recordingApp();
    const r = await app.request(`http://alpha.test/v1/students/${STUDENT}?name=Secret+Child`, {
      headers: { 'x-request-id': 'req-observability-1' },
    });
    expect(r.status).toBe(401);
    const [line, ...more] = accessLines(lines);
    expect(more).toEqual([]);
    expectStudentReadLine(line!, 'req-observability-1');
  });

  it('writes the same line in workerd, to the console wrangler shows', async () => {
    const r = await call(workerd, 'GET', `/v1/students/${STUDENT}?name=Secret+Child`, {
      host: 'alpha.test',
      headers: { 'x-request-id': 'req-observability-workerd' },
    });
    expect(r.status).toBe(401);
    const line = await eventually(async () => {
      const found = jsonLines(workerd.output!()).filter(
        (l) => l.msg === 'request' && l.request_id === 'req-observability-workerd',
      );
      expect(found).toHaveLength(1);
      return found[0]!;
    });
    expectStudentReadLine(line, 'req-observability-workerd');
  });

  it('names no route for an unknown path and no tenant for an unknown host', async () => {
    const { lines, app } = recordingApp();
    expect((await app.request('http://alpha.test/v1/nothing-here/abc?x=1')).status).toBe(404);
    expect((await app.request('http://nobody.test/v1/public/profile')).status).toBe(404);
    const [unknownPath, unknownHost] = accessLines(lines);
    expect(unknownPath).toMatchObject({ route: null, status: 404, tenant_slug: 'alpha' });
    expect(unknownHost).toMatchObject({ route: '/v1/public/profile', status: 404 });
    expect(unknownHost).not.toHaveProperty('tenant_id');
    expect(JSON.stringify(unknownPath)).not.toContain('nothing-here');
  });
});

describe('GET /metrics', () => {
  for (const runtime of ['node', 'workerd'] as const) {
    const target = () => (runtime === 'node' ? node : workerd);

    it(`on ${runtime}: refuses a scrape without the token or with another one (401 problem)`, async () => {
      expectProblem(
        await call(target(), 'GET', '/metrics', { host: 'alpha.test' }),
        401,
        'unauthenticated',
      );
      const wrong = await call(target(), 'GET', '/metrics', {
        host: 'alpha.test',
        headers: { authorization: `Bearer ${TOKEN}x` },
      });
      expectProblem(wrong, 401, 'unauthenticated');
      expect(wrong.text).not.toContain('homeroom_');
    });

    it(`on ${runtime}: answers the token with counters in the Prometheus text format`, async () => {
      const r = await call(target(), 'GET', '/metrics', {
        host: 'localhost',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(r.status, r.text).toBe(200);
      expect(String(r.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
      const samples = parseExposition(r.text);
      for (const name of [
        'homeroom_enqueue_failures_total',
        'homeroom_rate_limit_hits_total',
        'homeroom_db_connection_losses_total',
      ]) {
        expect(samples.get(name), name).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('shows a counter moving after its event (a login refused by the rate limit)', async () => {
    const { app } = recordingApp();
    const scrape = async () => {
      const r = await app.request('http://localhost/metrics', {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(r.status).toBe(200);
      return parseExposition(await r.text()).get('homeroom_rate_limit_hits_total');
    };
    expect(await scrape()).toBe(0);
    const login = () =>
      app.request('http://beta.test/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@beta.test', password: 'not-the-password-1' }),
      });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await login()).status);
    expect(statuses).toEqual([401, 401, 429]);
    expect(await scrape()).toBe(1);
  });

  it('answers like a path with no route when METRICS_TOKEN is unset', async () => {
    const services = node.services!;
    const off = newApp({
      services: () => ({ ...services, config: { ...services.config, METRICS_TOKEN: undefined } }),
    });
    const r = await off.request('http://localhost/metrics', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
