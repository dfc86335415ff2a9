import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { API_COUNTERS, PROMETHEUS_CONTENT_TYPE, prometheusText } from '../db/log.js';
import type { AppEnv } from './app-env.js';
import { ApiError } from './problems.js';

/**
 * What operators see per request and per process: one access-log line per request and the
 * process's counters for a Prometheus scrape.
 */

/**
 * The route template that answered (`/v1/students/:id`), never the raw path: ids, slugs and
 * query strings stay out of the log. Null when no route matched (a 404 for an unknown path).
 * Middleware is registered for every method (`ALL`); the answering route for one method.
 */
export function routeTemplate(c: Context<AppEnv>): string | null {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return routes.at(-1)?.path ?? null;
}

/**
 * One structured line per request (`msg: "request"`, level info): method, route template,
 * status, duration in ms, the tenant when resolved, the request id. Never the query string,
 * headers or bodies.
 */
export function accessLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const tenant = c.get('tenant');
      c.get('services').log.info('request', {
        method: c.req.method,
        route: routeTemplate(c),
        status: c.res.status,
        duration_ms: Math.round((performance.now() - started) * 10) / 10,
        tenant_id: tenant?.id,
        tenant_slug: tenant?.slug,
        request_id: c.get('requestId'),
      });
    }
  };
}

/**
 * `GET /metrics`: this process's (on workerd, this isolate's) counters in the Prometheus
 * text format, for a scraper holding `METRICS_TOKEN` as its bearer token. A static secret
 * rather than a platform admin's access token, which expires within 15 minutes. Without
 * the setting the path answers like one with no route.
 */
export async function metricsScrape(c: Context<AppEnv>): Promise<Response> {
  const services = c.get('services');
  const token = services.config.METRICS_TOKEN;
  if (!token) throw new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}.`);
  const given = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
  if (!given || !(await sameSecret(given, token))) {
    throw new ApiError('unauthenticated', 'A bearer token is required to read the metrics.', {
      headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
    });
  }
  return c.body(prometheusText(services.log.counters, API_COUNTERS), 200, {
    'content-type': PROMETHEUS_CONTENT_TYPE,
    'cache-control': 'no-store',
  });
}

/** Compares digests, so the time taken says nothing about how much of the token matched. */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const digest = async (s: string) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}
