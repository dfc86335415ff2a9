import http from 'node:http';

/**
 * A small HTTP load generator for the benchmarks: closed loop (N requests in flight,
 * measures throughput) and open loop (a fixed offered rate, measures latency without
 * coordinated omission: each request's latency counts from when it was due).
 */

export interface RequestSpec {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  statuses: Record<number, number>;
  seconds: number;
  throughput: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function summarise(
  latencies: number[],
  statuses: Record<number, number>,
  errors: number,
  seconds: number,
): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    statuses,
    seconds,
    throughput: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

function send(agent: http.Agent, port: number, spec: RequestSpec): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { ...spec.headers };
    if (spec.body !== undefined) headers['content-length'] = String(Buffer.byteLength(spec.body));
    const req = http.request(
      { host: '127.0.0.1', port, method: spec.method, path: spec.path, headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    if (spec.body !== undefined) req.write(spec.body);
    req.end();
  });
}

/** Keeps `concurrency` requests in flight for `seconds`; `next(i)` builds request i. */
export async function closedLoop(
  port: number,
  next: (i: number) => RequestSpec,
  options: { concurrency: number; seconds: number; warmupSeconds?: number },
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  let i = 0;
  const run = async (
    until: number,
    record: boolean,
    latencies: number[],
    statuses: Record<number, number>,
    errors: { n: number },
  ) => {
    const worker = async () => {
      while (performance.now() < until) {
        const start = performance.now();
        try {
          const status = await send(agent, port, next(i++));
          if (record) {
            latencies.push(performance.now() - start);
            statuses[status] = (statuses[status] ?? 0) + 1;
          }
        } catch {
          if (record) errors.n++;
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  };
  const warm = options.warmupSeconds ?? 1;
  await run(performance.now() + warm * 1000, false, [], {}, { n: 0 });
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const errors = { n: 0 };
  const started = performance.now();
  await run(started + options.seconds * 1000, true, latencies, statuses, errors);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return summarise(latencies, statuses, errors.n, seconds);
}

/** Offers `rate` requests per second for `seconds`, whatever the server's pace. */
export async function openLoop(
  port: number,
  next: (i: number) => RequestSpec,
  options: { rate: number; seconds: number },
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      send(agent, port, next(i)).then(
        (status) => {
          latencies.push(performance.now() - due);
          statuses[status] = (statuses[status] ?? 0) + 1;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return summarise(latencies, statuses, errors, seconds);
}
