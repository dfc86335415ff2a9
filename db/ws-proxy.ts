/**
 * WebSocket→TCP proxy so @neondatabase/serverless (Postgres wire protocol inside binary
 * WebSocket frames) can reach a plain local Postgres in development, in tests and from
 * `wrangler dev`. It plays the part of Neon's own proxy (`/v1?address=host:port`).
 *
 * It is a development tool, so it fails closed: it binds to loopback and, unless an
 * `allow` hook says otherwise, forwards only to loopback targets. A refused target is
 * answered at the HTTP upgrade, before any TCP connection is attempted, so the proxy can
 * never be used to probe or relay to other hosts.
 */
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

export interface WsProxyOptions {
  /** Port to listen on; 0 (the default) picks an ephemeral port. */
  port?: number;
  /** Interface to bind; loopback by default so the proxy is not reachable from the network. */
  host?: string;
  /** Which upstream targets may be reached; defaults to {@link isLoopbackTarget}. */
  allow?: (host: string, port: number) => boolean;
}

export interface WsProxy {
  port: number;
  /** Base URL of the proxy, e.g. `ws://127.0.0.1:5488`. */
  url: string;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** Above this many bytes queued towards the client, stop reading from Postgres. */
const HIGH_WATER_MARK = 1024 * 1024;
/** A target that neither accepts nor refuses within this time is treated as unavailable. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The default policy: only the loopback names a developer's own Postgres listens on. */
export function isLoopbackTarget(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

/** Parses `host:port`, `[v6]:port` or Neon's unbracketed `::1:port`; null when malformed. */
function parseAddress(raw: string | null): { host: string; port: number } | null {
  if (!raw) return null;
  const colon = raw.lastIndexOf(':');
  if (colon <= 0) return null;
  let host = raw.slice(0, colon);
  const portText = raw.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!/^\d{1,5}$/.test(portText) || host === '') return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  return { host, port };
}

/** Answers a not-yet-upgraded request with a bare HTTP status and drops the socket. */
function refuse(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  const reason = STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
  // A client that never reads must not keep the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Starts the proxy; resolves once it is listening. */
export async function startWsProxy(options: WsProxyOptions = {}): Promise<WsProxy> {
  const bindHost = options.host ?? '127.0.0.1';
  const allow = options.allow ?? ((host: string) => isLoopbackTarget(host));
  const upstreams = new Set<Socket>();
  const pending = new Set<Duplex>();

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
    res.end('WebSocket upgrade required');
  });
  // Without these, a client resetting mid-handshake would surface as an unhandled error.
  server.on('clientError', (_err, socket) => socket.destroy());
  wss.on('error', () => {});

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const target = parseAddress(url.searchParams.get('address'));
    if (!target) return refuse(socket, 400);
    if (!allow(target.host, target.port)) return refuse(socket, 403);

    // Connect upstream before completing the upgrade, so an unreachable Postgres is a
    // plain 502 to the client rather than a WebSocket that opens and immediately dies.
    pending.add(socket);
    const upstream = connect({ host: target.host, port: target.port });
    upstreams.add(upstream);
    upstream.setNoDelay(true);
    upstream.setTimeout(CONNECT_TIMEOUT_MS);
    // Covers the client leaving mid-connect and ws refusing a malformed handshake (it
    // then answers 400 itself and never calls back); after the upgrade ws owns the socket.
    socket.once('close', () => {
      pending.delete(socket);
      upstream.destroy();
    });
    upstream.on('close', () => upstreams.delete(upstream));
    upstream.once('timeout', () => upstream.destroy(new Error('connect timeout')));
    upstream.on('error', () => {
      if (pending.delete(socket)) refuse(socket, 502);
    });
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      pending.delete(socket);
      if (socket.destroyed) return upstream.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => pipe(ws, upstream));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  const urlHost = bindHost.includes(':') ? `[${bindHost}]` : bindHost;

  return {
    port: address.port,
    url: `ws://${urlHost}:${address.port}`,
    close: async () => {
      // ws 8 no longer ends live clients on close, and http.Server#close waits for them.
      for (const client of wss.clients) client.terminate();
      for (const socket of pending) socket.destroy();
      for (const upstream of upstreams) upstream.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** Shuttles bytes both ways, with backpressure, and tears both sides down together. */
function pipe(ws: WebSocket, upstream: Socket): void {
  let closed = false;
  const shutdown = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    upstream.destroy();
    if (ws.readyState === ws.OPEN) ws.close(code, reason);
    else ws.terminate();
  };

  ws.on('message', (data: RawData) => {
    const chunk = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    if (!upstream.write(chunk)) ws.pause();
  });
  upstream.on('drain', () => ws.resume());

  upstream.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, (err) => {
      if (err) return shutdown(1011, 'client write failed');
      if (upstream.isPaused() && ws.bufferedAmount < HIGH_WATER_MARK) upstream.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER_MARK) upstream.pause();
  });

  // Postgres ending the session (Terminate, shutdown, admin kill) closes the client
  // normally; a broken upstream is reported as 1011 so the driver sees an error.
  upstream.on('end', () => shutdown(1000, 'upstream closed'));
  upstream.on('error', () => shutdown(1011, 'upstream error'));
  upstream.on('close', () => shutdown(1000, 'upstream closed'));
  ws.on('error', () => shutdown(1011, 'client error'));
  ws.on('close', () => {
    closed = true;
    upstream.destroy();
  });
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const raw = process.env.WS_PROXY_PORT ?? '5488';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`WS_PROXY_PORT must be a port number, got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  const proxy = await startWsProxy({ port });
  console.log(`ws-proxy listening on ${proxy.url} (loopback targets only)`);
  const stop = () => {
    proxy.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
