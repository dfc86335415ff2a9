import { spawn, type ChildProcess } from 'node:child_process';
import { startWsProxy } from '../db/ws-proxy.js';
import { DEFAULT_DATABASE_URL } from '../db/env.js';

/**
 * `npm run dev`: the API in workerd (wrangler dev) against the real local services, with
 * the WebSocket→TCP proxy the Neon driver needs to reach a plain PostgreSQL, plus the
 * metrics workers when they exist. Settings come from the environment (see README).
 */
const proxy = await startWsProxy({ port: Number(process.env.WS_PROXY_PORT ?? 0) });
const vars: Record<string, string> = {
  DATABASE_URL: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  DB_WS_PROXY: `127.0.0.1:${proxy.port}`,
};
for (const key of [
  'PLATFORM_DOMAIN',
  'PLATFORM_TENANT',
  'BRANCH_SECRET_KEY',
  'JWT_SIGNING_KEYS',
  'APP_DB_PASSWORD',
  'LOG_LEVEL',
  'PUBLIC_RATE_LIMIT',
]) {
  const value = process.env[key];
  if (value) vars[key] = value;
}

const children: ChildProcess[] = [];
const start = (command: string, args: string[]) => {
  const child = spawn(command, args, {
    stdio: 'inherit',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`${args[0]} exited (${code}); stopping`);
      void stop(code ?? 1);
    }
  });
  children.push(child);
};

start(process.execPath, [
  'node_modules/wrangler/bin/wrangler.js',
  'dev',
  '--port',
  process.env.PORT ?? '8787',
  ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
]);

let stopping = false;
async function stop(code = 0) {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  await proxy.close();
  process.exit(code);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
