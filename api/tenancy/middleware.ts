import type { MiddlewareHandler } from 'hono';
import { withTenant } from '../../db/tenancy.js';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';
import { normaliseHost } from './control-plane.js';

/**
 * Resolves the tenant from the request's host (SPEC §3). Forwarded-host headers count only
 * when the deployment says its proxy is trusted. Unknown → 404 that says nothing about
 * other tenants; suspended → 403.
 */
export function resolveTenant(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const services = c.get('services');
    const forwarded = services.config.TRUST_FORWARDED_HEADERS
      ? c.req.header('x-forwarded-host')?.split(',')[0]
      : undefined;
    const host = normaliseHost(forwarded ?? c.req.header('host') ?? new URL(c.req.url).host);
    const tenant = host ? await services.control.resolveHost(host) : null;
    if (!tenant) throw new ApiError('not_found');
    if (tenant.status === 'suspended') throw new ApiError('tenant_suspended');
    c.set('tenant', tenant);
    await next();
  };
}

/** Marks the request rolled back: its handler failed or answered with an error status. */
class RolledBack extends Error {}

/**
 * Runs the rest of the request in one transaction on the tenant's branch, with the tenant
 * context set (SPEC §3). It commits only when the handler succeeded; a thrown error or a
 * 4xx/5xx response rolls everything back. After a commit that changed metric inputs it
 * enqueues a refresh — never before, so workers cannot read uncommitted state.
 */
export function tenantTransaction(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // A CORS preflight reads nothing from the branch.
    if (c.req.method === 'OPTIONS') return next();
    const services = c.get('services');
    const tenant = c.get('tenant');
    const db = await services.branchDb(tenant.branchId);
    try {
      await withTenant(db, tenant.id, async (tx) => {
        c.set('tx', tx);
        await next();
        if (c.error || c.res.status >= 400) throw new RolledBack();
      });
    } catch (err) {
      if (!(err instanceof RolledBack)) throw err;
      return;
    }
    if (c.get('metricsDirty')) await services.queue.enqueueRefresh(tenant.id);
  };
}
