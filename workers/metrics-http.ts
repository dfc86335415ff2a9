import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE, WORKER_COUNTERS, prometheusText } from '../db/log.js';
import type { Logger } from '../db/log.js';

/**
 * `GET /metrics` on `WORKER_METRICS_PORT`: this worker process's counters in the Prometheus
 * text format. A listener rather than a file, so a scrape sees the live counters without a
 * writer loop and the same scraper config serves the API and the workers. It answers nothing
 * else and carries no tenant data (counters only); keep the port private.
 */
export async function serveWorkerMetrics(
  log: Logger,
  port: number,
  host: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' })
      .end(prometheusText(log.counters, WORKER_COUNTERS));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.warn('metrics listener error', { error: err.message }));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
