import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { createTenant } from '../db/platform.js';
import { asAdmin, benchEnvironment } from './environment.js';
import { closedLoop, openLoop, type LoadResult, type RequestSpec } from './load.js';

/**
 * Public inquiry write on Node vs the raw baseline (node:http + pg, same inserts in one
 * transaction), at the same concurrency in the same run; then p99 at 200 requests/s
 * offered. Targets (BENCHMARKS.md): throughput ≥ 0.7 × baseline; p99 ≤ 50 ms at 200 rps.
 */

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function startChild(
  file: string,
  env: Record<string, string>,
  port: number,
  host: string,
): Promise<ChildProcess> {
  const extra = file.startsWith('api/')
    ? (process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? [])
    : [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', file], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${file} did not start (host ${host})`);
}

async function stopChild(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export interface InquiryBenchResult {
  api: LoadResult;
  baseline: LoadResult;
  ratio: number;
  open: LoadResult;
}

export async function benchInquiry(
  log: (line: string) => void = console.log,
): Promise<InquiryBenchResult> {
  const b = await benchEnvironment('inquiry');
  try {
    const tenant = await createTenant(b.env, {
      slug: 'bench',
      name: 'Bench Academy',
      domains: ['bench.test'],
      placement: 'pool',
      adminEmail: 'admin@bench.test',
      adminPassword: 'Correct-Horse-Battery-9',
      actor: 'bench',
    });
    const schoolId = randomUUID();
    await asAdmin(b.adminUrl('pool'), (c) =>
      c.query(
        `insert into org_units (tenant_id, id, parent_id, kind, name, code, grade_levels, enrollment_open)
         values ($1, $2, $3, 'school', 'Bench Elementary', 'BE', '{K,1,2,3,4,5}', true)`,
        [tenant.id, schoolId, tenant.rootOrgUnitId],
      ),
    );

    let seq = 0;
    const request = (): RequestSpec => {
      const n = seq++;
      return {
        method: 'POST',
        path: '/v1/public/inquiries',
        headers: { host: 'bench.test', 'content-type': 'application/json' },
        body: JSON.stringify({
          guardian_name: 'Pat Example',
          email: `family${n}@bench.example.org`,
          phone: '+1 602 555 0100',
          student_first_name: 'Sam',
          grade_interest: '3',
          school_id: schoolId,
          message: 'We would like to learn more.',
          consent: true,
          utm_source: 'google',
          utm_medium: 'cpc',
          utm_campaign: 'fall',
        }),
      };
    };

    const apiPort = await freePort();
    const basePort = await freePort();
    const queue = `bench-${randomUUID()}`;
    const api = await startChild(
      'api/node.ts',
      {
        DATABASE_URL: b.env.DATABASE_URL,
        REDIS_URL:
          process.env.BENCH_API_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        PUBLIC_RATE_LIMIT: '1000000000',
        LOG_LEVEL: 'error',
        METRICS_QUEUE: queue,
        NODE_ENV: 'development',
      },
      apiPort,
      'bench.test',
    );
    const base = await startChild(
      'bench/inquiry-baseline.ts',
      { BASELINE_DB_URL: b.appUrl('pool'), BASELINE_TENANT: tenant.id },
      basePort,
      'baseline',
    );
    try {
      const runs = { api: [] as LoadResult[], baseline: [] as LoadResult[] };
      // Alternate, so table growth, checkpoints and caches affect both sides alike; the
      // ratio is the median of the rounds' ratios.
      // Both servers warm up first (JIT, pools, first-use module loading), unmeasured.
      for (const port of [basePort, apiPort]) {
        await closedLoop(port, request, { concurrency: CONCURRENCY, seconds: WARMUP_SECONDS });
      }
      for (let round = 0; round < ROUNDS; round++) {
        const base = await closedLoop(basePort, request, {
          concurrency: CONCURRENCY,
          seconds: SECONDS,
        });
        const api = await closedLoop(apiPort, request, {
          concurrency: CONCURRENCY,
          seconds: SECONDS,
        });
        runs.baseline.push(base);
        runs.api.push(api);
        log(
          `  round ${round + 1}: API ${api.throughput.toFixed(0)} req/s, baseline ${base.throughput.toFixed(0)} req/s`,
        );
      }
      const merge = (xs: LoadResult[]): LoadResult => ({
        ...xs[xs.length - 1]!,
        requests: xs.reduce((n, x) => n + x.requests, 0),
        errors: xs.reduce((n, x) => n + x.errors, 0),
        throughput: xs.reduce((n, x) => n + x.throughput, 0) / xs.length,
        p50: xs.reduce((n, x) => n + x.p50, 0) / xs.length,
        p99: xs.reduce((n, x) => n + x.p99, 0) / xs.length,
      });
      const apiResult = merge(runs.api);
      const baseResult = merge(runs.baseline);
      const open = await openLoop(apiPort, request, { rate: RATE, seconds: SECONDS });
      const ratios = runs.api
        .map((a, i) => a.throughput / runs.baseline[i]!.throughput)
        .sort((x, y) => x - y);
      const result = {
        api: apiResult,
        baseline: baseResult,
        ratio: ratios[Math.floor(ratios.length / 2)]!,
        open,
      };
      const fmt = (x: LoadResult) =>
        `${x.throughput.toFixed(0)} req/s, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, statuses ${JSON.stringify(x.statuses)}, errors ${x.errors}`;
      log(`inquiry write, closed loop, ${CONCURRENCY} in flight, ${ROUNDS} × ${SECONDS} s each:`);
      log(`  API (Node)        ${fmt(apiResult)}`);
      log(`  raw baseline      ${fmt(baseResult)}`);
      log(
        `  throughput ratio  ${result.ratio.toFixed(2)} median of rounds [${ratios.map((r) => r.toFixed(2)).join(', ')}] (target ≥ 0.70)`,
      );
      log(`inquiry write, open loop, ${RATE} req/s offered for ${SECONDS} s:`);
      log(
        `  API (Node)        p50 ${open.p50.toFixed(1)} ms, p99 ${open.p99.toFixed(1)} ms, max ${open.max.toFixed(1)} ms (target p99 ≤ 50 ms), non-201 ${open.requests - (open.statuses[201] ?? 0)}`,
      );
      return result;
    } finally {
      await stopChild(api);
      await stopChild(base);
      const { Queue } = await import('bullmq');
      const q = new Queue(queue, {
        connection: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      });
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
  } finally {
    await b.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchInquiry();
}
