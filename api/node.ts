import { serve } from '@hono/node-server';
import { newApp } from './app.js';
import { parseApiConfig } from './env.js';
import { createNodeServices } from './runtime/node.js';

/** `npm run api`: the app on Node (PORT, default 8787). */
const config = parseApiConfig(process.env);
const port = Number(process.env.PORT ?? 8787);
const { services, close } = await createNodeServices(config);
const app = newApp({ services: () => services });
const server = serve({ fetch: app.fetch, port, hostname: process.env.HOST ?? '0.0.0.0' }, (info) =>
  services.log.info('api listening', { port: info.port }),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    services.log.info('shutting down', { signal });
    server.close(() => void close().finally(() => process.exit(0)));
    setTimeout(() => process.exit(1), 10_000).unref();
  });
}
