import { newApp } from './app.js';
import { parseApiConfig } from './env.js';
import { createNodeServices, serveNode } from './runtime/node.js';

/** `npm run api`: the app on Node (PORT, default 8787). */
const config = parseApiConfig(process.env);
const port = Number(process.env.PORT ?? 8787);
const { services, close } = await createNodeServices(config);
const app = newApp({ services: () => services });
const server = serveNode(app.fetch, { port, hostname: process.env.HOST ?? '0.0.0.0' }, (p) =>
  services.log.info('api listening', { port: p }),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    services.log.info('shutting down', { signal });
    server.close(() => void close().finally(() => process.exit(0)));
    setTimeout(() => process.exit(1), 10_000).unref();
  });
}
