import type { ServerType } from '@hono/node-server';
import { serveNode } from '../api/runtime/node.js';

/** Listens on IPv4 and, where there is one, IPv6 loopback: `*.localhost` may resolve to either. */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
): Promise<ServerType[]> {
  const open = (hostname: string, p: number) =>
    new Promise<ServerType>((resolve, reject) => {
      const server = serveNode(fetch, { port: p, hostname }, () => resolve(server));
      server.once('error', reject);
    });
  const v4 = await open('127.0.0.1', port);
  const actual = (v4.address() as { port: number }).port;
  const v6 = await open('::1', actual).catch(() => null);
  return v6 ? [v4, v6] : [v4];
}

export function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}
