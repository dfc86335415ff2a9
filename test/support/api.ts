import http from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { newApp } from '../../api/app.js';
import { parseApiConfig } from '../../api/env.js';
import { createNodeServices, serveNode } from '../../api/runtime/node.js';
import type { Services } from '../../api/services.js';
import { startWsProxy } from '../../db/ws-proxy.js';
import { freePort } from './net.js';

/** A running copy of the API: on Node (in this process) or in workerd (wrangler's dev server). */
export interface ApiTarget {
  runtime: 'node' | 'workerd';
  port: number;
  /** Node only: the process's services, for white-box assertions (log counters). */
  services?: Services;
  /** workerd only: what wrangler printed so far (the Worker's logs), for diagnosing a 5xx. */
  output?: () => string;
  close(): Promise<void>;
}

export type ApiVars = Record<string, string>;

/** Starts the app on Node on an ephemeral port. */
export async function startNodeApi(vars: ApiVars): Promise<ApiTarget> {
  const config = parseApiConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', ...vars });
  const { services, close } = await createNodeServices(config);
  const app = newApp({ services: () => services });
  const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
    const s = serveNode(app.fetch, { port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    runtime: 'node',
    port,
    services,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await close();
    },
  };
}

/** A Node API in a process of its own (`api/node.ts`), so that its exit is observable. */
export interface ApiProcess extends ApiTarget {
  /** The exit code or signal once the process has ended; null while it runs. */
  exited: () => string | null;
}

/** Starts `api/node.ts` (what `npm run api` runs) as a child process on a free port. */
export async function spawnNodeApi(vars: ApiVars): Promise<ApiProcess> {
  const port = await freePort();
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/node.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      ...vars,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited: string | null = null;
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.on('exit', (code, signal) => (exited = `${code ?? signal}`));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`api/node.ts exited (${exited}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`api/node.ts did not answer within 60 s:\n${output}`);
    }
    const r = await call({ port }, 'GET', '/health', { host: 'localhost' }).catch(() => null);
    if (r?.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    runtime: 'node',
    port,
    output: () => output,
    exited: () => exited,
    async close() {
      if (exited !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (exited === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Starts the Worker in workerd with `wrangler dev` (the same command `npm run dev` uses),
 * with the Neon driver reaching the local PostgreSQL through the WebSocket→TCP proxy.
 */
export async function startWorkerdApi(
  vars: ApiVars,
  options: {
    /** What wrangler shows of its own and the Worker's console; `log` shows `console.log` too. */
    wranglerLogLevel?: 'warn' | 'log';
  } = {},
): Promise<ApiTarget> {
  const proxy = await startWsProxy({ port: 0 });
  const port = await freePort();
  const all: ApiVars = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DB_WS_PROXY: `127.0.0.1:${proxy.port}`,
    ...vars,
  };
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      'node_modules/wrangler/bin/wrangler.js',
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--show-interactive-dev-session=false',
      '--log-level',
      options.wranglerLogLevel ?? 'warn',
      ...Object.entries(all).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
    }
    try {
      const r = await call({ port }, 'GET', '/health', { host: 'localhost' });
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    runtime: 'workerd',
    port,
    output: () => output,
    async close() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await proxy.close();
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience
  json: any;
}

/**
 * Sends one request with an explicit Host header (fetch may not set Host), so tests can pick
 * tenants by hostname while talking to 127.0.0.1.
 */
export function call(
  target: Pick<ApiTarget, 'port'>,
  method: string,
  path: string,
  options: {
    host: string;
    headers?: Record<string, string>;
    body?: unknown;
    rawBody?: string | Buffer;
  } = {
    host: 'localhost',
  },
): Promise<ApiResponse> {
  const body =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { host: options.host, ...options.headers };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: target.port, method, path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
