import type { Context, MiddlewareHandler } from 'hono';
import type { Tx } from '../../db/connection.js';
import { withTenantTracked } from '../../db/tenancy.js';
import type { AppEnv } from '../app-env.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { ApiError } from '../problems.js';
import { normaliseHost } from '../../db/control-plane.js';

/**
 * Resolves the tenant from the request's host (docs/tenancy-and-security.md#resolving-the-tenant).
 * Forwarded-host headers count only when the deployment says its proxy is trusted. Unknown → 404
 * that says nothing about other tenants; suspended → 403.
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
 * context set (docs/tenancy-and-security.md#tenant-context). It commits only when the handler
 * succeeded; a thrown error or a 4xx/5xx response rolls everything back — unless the handler
 * kept its writes with {@link commitDespiteRefusal}, which a 4xx then commits (a 5xx never
 * does). After a commit that wrote a metric input (as the transaction's own row stamps tell,
 * whatever route ran) it enqueues a refresh — never before, so workers cannot read
 * uncommitted state.
 */
export function tenantTransaction(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // A CORS preflight reads nothing from the branch.
    if (c.req.method === 'OPTIONS') return next();
    const services = c.get('services');
    const tenant = c.get('tenant');
    const db = await services.branchDb(tenant.branchId);
    let metricInputsWritten = false;
    try {
      ({ metricInputsWritten } = await withTenantTracked(db, tenant.id, async (tx) => {
        c.set('tx', tx);
        await next();
        const refused = c.error !== undefined || c.res.status >= 400;
        if (refused && !(c.get('commitRefusal') && c.res.status < 500)) throw new RolledBack();
      }));
    } catch (err) {
      if (!(err instanceof RolledBack)) throw err;
      return;
    }
    if (metricInputsWritten) await services.queue.enqueueRefresh(tenant.id);
    for (const after of c.get('afterCommit') ?? []) await after();
  };
}

/**
 * Runs `work` after the request's transaction has committed, and never if it rolls back
 * (e.g. enqueueing the delivery of the mail the request wrote to the outbox). `work` must
 * not throw: the response is already decided.
 */
export function onCommit(c: Context<AppEnv>, work: () => Promise<unknown>): void {
  const list = c.get('afterCommit') ?? [];
  list.push(work);
  c.set('afterCommit', list);
}

/**
 * Runs `write` in the request's transaction and commits it although the request answers
 * with a 4xx: failed-login counting and the revocation of a reused refresh token must
 * survive the 401 that follows. Everything the request wrote commits with it, so call it
 * only on a path that has written nothing else. It uses the request's own connection: a
 * second transaction from the pool while this one is held would deadlock the branch pool
 * once as many such requests arrive at once as it has connections.
 */
export async function commitDespiteRefusal<T>(
  c: Context<AppEnv>,
  write: (tx: Tx<TenantSchema>) => Promise<T>,
): Promise<T> {
  const result = await write(c.get('tx'));
  c.set('commitRefusal', true);
  return result;
}
