import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';

export interface TenantCorsOptions {
  /** Methods a preflight may ask for (OPTIONS is implied). */
  allowMethods?: readonly string[];
  /** Request headers a preflight may ask for. */
  allowHeaders?: readonly string[];
  /** Response headers the calling page may read. */
  exposeHeaders?: readonly string[];
  /** How long a browser may cache a preflight answer. */
  maxAgeSeconds?: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * CORS for a tenant's public endpoints: only pages served from the tenant's own domains
 * (`site` and `app` purposes in `tenant_domains`, plus `<slug>.<PLATFORM_DOMAIN>`), over
 * http or https, may call them from a browser; an explicit port is accepted only on
 * `localhost` and `*.localhost` (development). Runs after tenant resolution.
 *
 * - Preflight from an allowed origin → 204 with the allowed methods and headers.
 * - Preflight from any other origin → 403 problem (clearer in a browser console than a
 *   silent 204 without Access-Control-Allow-Origin; both block the call).
 * - Unsafe request (POST…) carrying a foreign `Origin` → 403 problem before any work: a
 *   browser on someone else's page must not be able to file leads, even by a request that
 *   needs no preflight.
 * - Requests without `Origin` (servers, curl) are not CORS and pass untouched.
 * Every answer carries `Vary: Origin`, as it depends on it. No credentials are allowed.
 */
export function tenantCors(options: TenantCorsOptions = {}): MiddlewareHandler<AppEnv> {
  const methods = [...(options.allowMethods ?? ['GET', 'POST'])].map((m) => m.toUpperCase());
  if (methods.length === 0) throw new Error('tenantCors(): allowMethods must not be empty');
  const allowMethods = methods.join(', ');
  const allowHeaders = (options.allowHeaders ?? ['content-type']).join(', ');
  const exposeHeaders = (options.exposeHeaders ?? []).join(', ');
  const maxAge = String(options.maxAgeSeconds ?? 600);

  return async (c, next) => {
    const origin = c.req.header('origin');
    const preflight = c.req.method === 'OPTIONS';
    if (origin === undefined) {
      if (preflight) return c.body(null, 204, { Allow: `${allowMethods}, OPTIONS` });
      await next();
      c.header('Vary', 'Origin', { append: true });
      return;
    }

    const ok = await originHost(origin, (host) => isTenantSiteHost(c, host));

    if (preflight) {
      if (!ok) {
        throw new ApiError('forbidden', 'This origin may not call this API from a browser.');
      }
      return c.body(null, 204, {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': allowMethods,
        'Access-Control-Allow-Headers': allowHeaders,
        'Access-Control-Max-Age': maxAge,
        Vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      });
    }
    if (!ok && !SAFE_METHODS.has(c.req.method)) {
      throw new ApiError('forbidden', 'Requests from this origin are not accepted.');
    }
    await next();
    c.header('Vary', 'Origin', { append: true });
    if (ok) {
      c.header('Access-Control-Allow-Origin', origin);
      if (exposeHeaders) c.header('Access-Control-Expose-Headers', exposeHeaders);
    }
  };
}

/**
 * Whether `origin` is an exact serialized origin (`scheme://host[:port]`) over http(s)
 * whose host `isOwn` accepts. Ports only on localhost names; anything odd is refused.
 */
async function originHost(
  origin: string,
  isOwn: (host: string) => Promise<boolean>,
): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false; // paths, userinfo, upper case, "null", …
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = url.hostname;
  if (url.port && host !== 'localhost' && !host.endsWith('.localhost')) return false;
  return isOwn(host);
}

/**
 * The hosts whose pages speak for the request's tenant: `<slug>.<PLATFORM_DOMAIN>` and its
 * own (verified) `site` and `app` domains. CORS, form redirects and frame-ancestors use them.
 */
export async function tenantSiteHosts(c: Context<AppEnv>): Promise<string[]> {
  const tenant = c.get('tenant');
  const services = c.get('services');
  return [
    `${tenant.slug}.${services.config.PLATFORM_DOMAIN}`,
    ...(await services.control.siteHosts(tenant.id)),
  ];
}

export async function isTenantSiteHost(c: Context<AppEnv>, host: string): Promise<boolean> {
  return (await tenantSiteHosts(c)).includes(host);
}
