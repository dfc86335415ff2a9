import type { ExecutionContext } from 'hono';
import { createDb } from '../db/connection.js';
import { newApp } from './app.js';
import { parseApiConfig } from './env.js';
import { createLogger } from '../db/log.js';
import { requestRedis } from './redis.js';
import { assembleServices, longLived, type LongLived } from './runtime/shared.js';
import type { Services } from './services.js';

/**
 * The app on Cloudflare Workers. Configuration is parsed once per isolate; connections are
 * opened per request (workerd forbids reusing a socket across requests) through the Neon
 * driver and closed after the response with waitUntil.
 */
let state: LongLived | undefined;
const perRequest = new WeakMap<Request, Services>();
const app = newApp({
  services: (c) => perRequest.get(c.req.raw)!,
  afterResponse: (c, work) => c.executionCtx.waitUntil(work),
});

export default {
  async fetch(
    request: Request,
    env: Record<string, unknown>,
    ctx: ExecutionContext,
  ): Promise<Response> {
    if (!state) {
      const config = parseApiConfig(env);
      state = longLived(config, createLogger(config.LOG_LEVEL, { runtime: 'workerd' }));
    }
    const { config, log } = state;
    const services = await assembleServices(
      state,
      'workerd',
      (url, schema, max) =>
        createDb({
          driver: 'neon',
          url,
          schema,
          max: Math.min(max, 2),
          ...(config.DB_WS_PROXY ? { wsProxy: config.DB_WS_PROXY } : {}),
        }),
      requestRedis(config.REDIS_URL, log),
      (c) =>
        c.req.header('cf-connecting-ip') ??
        (config.TRUST_FORWARDED_HEADERS
          ? c.req.header('x-forwarded-for')?.split(',')[0]?.trim()
          : undefined) ??
        'unknown',
    );
    perRequest.set(request, services);
    return app.fetch(request, env, ctx);
  },
};
