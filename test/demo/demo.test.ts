import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/api.js';
import { freePort } from '../support/net.js';

/**
 * `npm run demo` from a clean data directory, with no DATABASE_URL or REDIS_URL: embedded
 * PGlite and the in-process runner. Started like a terminal would (its own process group,
 * Ctrl-C delivered to the group), used over HTTP, stopped, then started again on the same
 * data. Runs `npm` itself, so what is tested is the script operators type.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Demo {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** The exit code, or the signal that ended the process. */
  exited: Promise<number | string | null>;
}

/** Through `npm run demo`, or the script alone in one process (its own exit status). */
function startDemo(
  dataDir: string,
  port: number,
  via: 'npm' | 'node',
  vars: Record<string, string> = {},
): Demo {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...vars };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const options = ['--data-dir', dataDir, '--port', String(port)];
  const child =
    via === 'npm'
      ? spawn('npm', ['run', '--silent', 'demo', '--', ...options], {
          cwd: ROOT,
          env,
          detached: true,
        })
      : spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...options], {
          cwd: ROOT,
          env,
          detached: true,
        });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string | null>((resolve) =>
    // `close`: every process holding the output pipes (npm, sh, tsx, node) has exited.
    child.once('close', (code, signal) => resolve(code ?? signal)),
  );
  return { child, output: () => output, exited };
}

async function ready(demo: Demo, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!demo.output().includes('Press Ctrl-C to stop.')) {
    if (demo.child.exitCode !== null) throw new Error(`demo exited early:\n${demo.output()}`);
    if (Date.now() > deadline) throw new Error(`demo not ready in time:\n${demo.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return demo.output();
}

async function waitFor(demo: Demo, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(demo.output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in time:\n${demo.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A signal to the demo's process group: Ctrl-C in a terminal reaches npm, sh, tsx and node. */
async function stop(demo: Demo, signal: 'SIGINT' | 'SIGTERM'): Promise<number | string | null> {
  process.kill(-demo.child.pid!, signal);
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
  const code = await Promise.race([demo.exited, timeout]);
  if (code === 'timeout') {
    process.kill(-demo.child.pid!, 'SIGKILL');
    throw new Error(`demo did not stop on ${signal}:\n${demo.output()}`);
  }
  return code;
}

function kill(demo: Demo | undefined): void {
  if (!demo) return;
  try {
    // The group: whatever of npm, sh, tsx and node is still running.
    process.kill(-demo.child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function login(port: number, host: string, email: string, password: string) {
  const r = await call({ port }, 'POST', '/v1/auth/login', { host, body: { email, password } });
  expect(r.status, r.text).toBe(200);
  return r.json.access_token as string;
}

describe('npm run demo (embedded PGlite, in-process runner)', () => {
  let dataDir: string;
  let port: number;
  let demo: Demo | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'homeroom-demo-'));
    port = await freePort();
  });

  afterAll(async () => {
    kill(demo);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts from nothing, serves both tenants with metrics and dashboards, and stops on Ctrl-C', async () => {
    demo = startDemo(dataDir, port, 'npm');
    const output = await ready(demo, 300_000);
    for (const slug of ['demo-network', 'demo-school']) {
      const base = `http://${slug}.localhost:${port}`;
      for (const path of ['/', '/login', '/dashboards', '/docs']) {
        expect(output).toContain(`${base}${path}`);
      }
      expect(output).toContain(`admin@${slug}.example.org / Homeroom-Sample-2026!`);
    }
    expect(output).toMatch(/seeded demo-network \(preset demo\)/);
    expect(output).toMatch(/refreshed demo-network: full, [1-9]\d* metric snapshots/);
    expect(output).toContain(join(dataDir, 'pg'));

    const host = 'demo-network.localhost';
    const admin = await login(
      port,
      host,
      'admin@demo-network.example.org',
      'Homeroom-Sample-2026!',
    );
    const auth = { authorization: `Bearer ${admin}` };
    const attendance = await call({ port }, 'GET', '/v1/metrics/attendance', {
      host,
      headers: auth,
    });
    expect(attendance.status, attendance.text).toBe(200);
    expect(attendance.json.snapshots.length).toBeGreaterThan(0);
    const daily = attendance.json.snapshots[0].payload.daily as { rate_percent: number }[];
    expect(daily.length).toBeGreaterThan(0);
    const rate = daily.reduce((s, d) => s + d.rate_percent, 0) / daily.length;
    expect(rate).toBeGreaterThan(85);
    expect(rate).toBeLessThan(98);

    const page = await call({ port }, 'GET', '/dashboards/overview', { host, headers: auth });
    expect(page.status, page.text.slice(0, 500)).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<main');

    // Every list behind a figure is linked from the pages and has people on it.
    const lists = new Set<string>();
    for (const name of ['overview', 'admissions', 'attendance', 'academics', 'finance']) {
      const r = await call({ port }, 'GET', `/dashboards/${name}`, { host, headers: auth });
      for (const m of r.text.matchAll(/href="(\/dashboards\/lists\/[^"]+)"/g)) {
        lists.add(m[1]!.replace(/&amp;/g, '&'));
      }
    }
    const rows: Record<string, number> = {};
    for (const href of lists) {
      const r = await call({ port }, 'GET', href, { host, headers: auth });
      expect(r.status, href).toBe(200);
      const key = href.split('?')[0]!.split('/').at(-1)!;
      rows[key] = (rows[key] ?? 0) + (r.text.match(/<tr><th scope="row">/g) ?? []).length;
    }
    for (const key of [
      'chronic-absence',
      'at-risk',
      'failing',
      'missing-work',
      'overdue',
      'stale-leads',
      'esa-pending',
    ]) {
      expect(rows[key], `${key}: ${JSON.stringify(rows)}`).toBeGreaterThan(0);
    }

    // Seeded staff sign in too; the other tenant's host refuses this tenant's token.
    await login(port, host, 'principal@demo.example.org', 'Homeroom-Demo-2026!');
    const foreign = await call({ port }, 'GET', '/v1/metrics/attendance', {
      host: 'demo-school.localhost',
      headers: auth,
    });
    expect(foreign.status).toBe(401);
    await login(
      port,
      'demo-school.localhost',
      'admin@demo-school.example.org',
      'Homeroom-Sample-2026!',
    );

    // Each school's own site (`<code>.<slug>.localhost`) serves that school and may call the
    // public API from a browser.
    const units = await call({ port }, 'GET', '/v1/org-units?kind=school', { host, headers: auth });
    expect(units.status, units.text).toBe(200);
    const school = units.json.data[0] as { id: string; code: string };
    const site = `${school.code.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}.${host}`;
    const ownSite = await call({ port }, 'GET', '/v1/public/profile', { host: site });
    expect(ownSite.status, ownSite.text).toBe(200);
    expect(ownSite.json.school.id).toBe(school.id);
    const preflight = await call({ port }, 'OPTIONS', '/v1/public/inquiries', {
      host,
      headers: {
        origin: `http://${site}:${port}`,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status, preflight.text).toBe(204);
    expect(output).toContain('npm run tenant -- add-domain');

    // A write is followed by a refresh through the in-process runner (the API's queue here).
    const inquiry = await call({ port }, 'POST', '/v1/public/inquiries', {
      host,
      body: { guardian_name: 'Demo Visitor', email: 'visitor@example.org', consent: true },
    });
    expect(inquiry.status, inquiry.text).toBe(201);
    await waitFor(demo, /refreshed demo-network after a change: [1-9]\d* rows extracted/, 60_000);

    // npm itself dies of the SIGINT it also got (a shell reports 130); the demo under it
    // closed everything and exited 0 (the next test checks its own status).
    expect(await stop(demo, 'SIGINT')).toBe('SIGINT');
    expect(demo.output()).toMatch(/SIGINT: stopping\n(.*\n)*stopped\n/);
  }, 420_000);

  it('starts again on the same data, keeping the tenants and their data; SIGTERM exits 0', async () => {
    // The embedded cluster's last port is taken now: stored branch URLs must follow it.
    const saved = JSON.parse(await readFile(join(dataDir, 'cluster.json'), 'utf8')) as {
      port: number;
    };
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(saved.port, '127.0.0.1', r));
    try {
      demo = startDemo(dataDir, port, 'node', { PUBLIC_RATE_LIMIT: '2' });
      await ready(demo, 180_000);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
    const output = demo.output();
    expect(output).not.toContain(`127.0.0.1:${saved.port},`);
    expect(output).toContain('kept the data of demo-network');
    expect(output).toContain('kept the data of demo-school');
    expect(output).not.toContain('created tenant');

    const host = 'demo-school.localhost';
    const admin = await login(port, host, 'admin@demo-school.example.org', 'Homeroom-Sample-2026!');
    const attendance = await call({ port }, 'GET', '/v1/metrics/attendance', {
      host,
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(attendance.status, attendance.text).toBe(200);
    expect(attendance.json.snapshots.length).toBeGreaterThan(0);

    // Without Redis the public rate limits hold in this process.
    const post = () =>
      call({ port }, 'POST', '/v1/public/inquiries', {
        host,
        body: { guardian_name: 'Demo Visitor', email: 'again@example.org', consent: true },
      });
    expect((await post()).status).toBe(201);
    expect((await post()).status).toBe(201);
    const limited = await post();
    expect(limited.status, limited.text).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    // An invitation arrives in the demo's mailbox, shown to the administrator, and is accepted.
    expect(output).toContain(`http://${host}:${port}/demo/mailbox`);
    expect((await call({ port }, 'GET', '/demo/mailbox', { host })).status).toBe(401);
    // As a browser would send it: the link in the mail points back at this host and port.
    const invited = await call({ port }, 'POST', '/v1/invitations', {
      host: `${host}:${port}`,
      headers: { authorization: `Bearer ${admin}` },
      body: {
        kind: 'staff',
        email: 'newcomer@demo-school.example.org',
        first_name: 'Nova',
        last_name: 'Newcomer',
        role: 'teacher',
        org_unit_id: null,
      },
    });
    expect(invited.status, invited.text).toBe(201);
    const signIn = await call({ port }, 'POST', '/login', {
      host,
      rawBody: new URLSearchParams({
        email: 'admin@demo-school.example.org',
        password: 'Homeroom-Sample-2026!',
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const cookie = String(signIn.headers['set-cookie']?.[0]).split(';')[0]!;
    let listing = '';
    for (let i = 0; i < 100 && !listing.includes('You are invited'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      listing = (await call({ port }, 'GET', '/demo/mailbox', { host, headers: { cookie } })).text;
    }
    const mailPath = /href="(\/demo\/mailbox\/\d+)">You are invited/.exec(listing)?.[1];
    expect(mailPath, listing).toBeDefined();
    const mail = await call({ port }, 'GET', mailPath!, { host, headers: { cookie } });
    const link =
      /href="(http:\/\/demo-school\.localhost:\d+\/invitations\/accept\?token=[0-9a-f]+)"/.exec(
        mail.text,
      )?.[1];
    expect(link, mail.text).toBeDefined();
    const token = new URL(link!).searchParams.get('token')!;
    expect(
      (await call({ port }, 'GET', `/invitations/accept?token=${token}`, { host })).status,
    ).toBe(200);
    const accepted = await call({ port }, 'POST', '/invitations/accept', {
      host,
      rawBody: new URLSearchParams({
        token,
        password: 'Quiet-Lantern-Harbor-7',
        confirm: 'Quiet-Lantern-Harbor-7',
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(accepted.status, accepted.text).toBe(303);
    await login(port, host, 'newcomer@demo-school.example.org', 'Quiet-Lantern-Harbor-7');

    expect(await stop(demo, 'SIGTERM')).toBe(0);
    expect(demo.output()).toContain('stopped');
  }, 240_000);
});
