import type { MiddlewareHandler } from 'hono';
import type { UsageKind } from '../../db/tenants/usage.js';
import type { AppEnv } from '../app-env.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Counts every tenant request in the tenant's daily usage: `public` for /v1/public/*,
 * `api` otherwise, plus `write` for a successful non-read. Recording only touches memory
 * (see UsageRecorder): the database write happens off the request path.
 */
export function countUsage(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const tenant = c.get('tenant');
    const kinds: UsageKind[] = [c.req.path.startsWith('/v1/public/') ? 'public' : 'api'];
    if (!READS.has(c.req.method) && c.res.status < 400) kinds.push('write');
    c.get('services').usage.record(tenant.id, kinds);
  };
}
