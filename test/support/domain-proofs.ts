import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the domain-verification checks talk to, on 127.0.0.1: a DNS-over-HTTPS resolver
 * (JSON format) answering TXT queries from `txt`, and web sites serving proof files from
 * `files` under `/sites/<host>/…`. Point DNS_RESOLVER_URL and DOMAIN_VERIFY_FILE_URL at
 * `resolverUrl` and `fileUrl`.
 */
export interface ProofServer {
  resolverUrl: string;
  fileUrl: string;
  /** TXT record name → its strings. */
  txt: Map<string, string[]>;
  /** Host → body of its `/.well-known/homeroom-verify.txt`. */
  files: Map<string, string>;
  close(): Promise<void>;
}

export async function startProofServer(): Promise<ProofServer> {
  const txt = new Map<string, string[]>();
  const files = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/dns-query') {
      const name = (url.searchParams.get('name') ?? '').replace(/\.$/, '');
      const records = url.searchParams.get('type') === 'TXT' ? (txt.get(name) ?? []) : [];
      res.writeHead(200, { 'content-type': 'application/dns-json' });
      res.end(
        JSON.stringify({
          Status: records.length ? 0 : 3, // NOERROR / NXDOMAIN
          Question: [{ name, type: 16 }],
          Answer: records.map((data) => ({ name, type: 16, TTL: 60, data: `"${data}"` })),
        }),
      );
      return;
    }
    const m = /^\/sites\/([^/]+)\/\.well-known\/homeroom-verify\.txt$/.exec(url.pathname);
    const body = m ? files.get(m[1]!) : undefined;
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    resolverUrl: `http://127.0.0.1:${port}/dns-query`,
    fileUrl: `http://127.0.0.1:${port}/sites/{host}/.well-known/homeroom-verify.txt`,
    txt,
    files,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
