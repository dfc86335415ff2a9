import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener, RequestError } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createDb } from '../../db/connection-node.js';
import type { AppEnv } from '../app-env.js';
import type { ApiConfig } from '../env.js';
import { createLogger } from '../../db/log.js';
import { problem } from '../problems.js';
import { MemoryRateLimiter } from '../middleware/rate-limit.js';
import type { RefreshQueue } from '../queue.js';
import type { MailQueue } from '../mail-queue.js';
import { sharedRedis } from '../redis.js';
import type { Services } from '../services.js';
import { assembleServices, longLived } from './shared.js';

export interface NodeServicesOptions {
  /** Where post-commit refreshes go instead of BullMQ (the demo's in-process runner). */
  queue?: RefreshQueue;
  /** Where committed outbox rows go instead of BullMQ (the demo's in-process mailer). */
  mail?: MailQueue;
}

/**
 * Services for the API on Node: one set for the process, a `pg` pool per branch, one
 * Redis client. `close()` ends them all (graceful shutdown, tests).
 */
export async function createNodeServices(
  config: ApiConfig,
  options: NodeServicesOptions = {},
): Promise<{ services: Services; close(): Promise<void> }> {
  const log = createLogger(config.LOG_LEVEL, { runtime: 'node' });
  const redis = sharedRedis(config.REDIS_URL, log);
  const assembled = await assembleServices(
    longLived(config, log),
    'node',
    (url, schema, max) => createDb({ driver: 'pg', url, schema, max }),
    redis,
    (c: Context<AppEnv>) => clientIp(c, config.TRUST_FORWARDED_HEADERS),
  );
  // On Node the pools live for the process; per-request dispose would throw them away.
  const services: Services = {
    ...assembled,
    // Without Redis this process is the only instance: its own windows are the limits.
    limiter: config.REDIS_URL ? assembled.limiter : new MemoryRateLimiter(),
    queue: options.queue ?? assembled.queue,
    mail: options.mail ?? assembled.mail,
    dispose: async () => {},
  };
  return { services, close: () => assembled.dispose() };
}

function clientIp(c: Context<AppEnv>, trustForwarded: boolean): string {
  if (trustForwarded) {
    const xff = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (xff) return xff;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * `serve` from @hono/node-server, with problem+json for what the adapter refuses before the
 * app runs: it builds the request URL from the Host header, and a malformed one (`a, b`,
 * `x@y`, `host:abc`) would otherwise get an empty 400 with no content type.
 */
export function serveNode(
  fetch: (request: Request) => Response | Promise<Response>,
  options: { port: number; hostname: string },
  onListening?: (port: number) => void,
): Server {
  const server = createServer(
    getRequestListener(fetch, { hostname: options.hostname, errorHandler: adapterProblem }),
  );
  // Requests Node's HTTP parser refuses never reach the adapter; Node would answer them with
  // a bare 400. Timeouts keep Node's own 408.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      return void socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    }
    const requestId = crypto.randomUUID();
    const body = JSON.stringify(
      problem('bad_request', { detail: 'The request is not valid HTTP.', requestId }),
    );
    socket.end(
      'HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\n` +
        `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.listen(options.port, options.hostname, () =>
    onListening?.((server.address() as AddressInfo).port),
  );
  return server;
}

function adapterProblem(err: unknown): Response {
  const requestId = crypto.randomUUID();
  // RequestError: the request line or Host could not make a URL. Anything else escaped the
  // app's own error handler and is ours.
  const body =
    err instanceof RequestError
      ? problem('bad_request', { detail: `${err.message}.`, requestId })
      : problem('internal', { requestId });
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: {
      'content-type': 'application/problem+json',
      'x-content-type-options': 'nosniff',
      'x-request-id': requestId,
    },
  });
}
