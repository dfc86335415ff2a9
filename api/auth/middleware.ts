import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';
import { InvalidTokenError } from './jwt.js';
import { loadPrincipal } from './principal.js';

/** Name of the browser session cookie set by /login. `__Host-` pins it to this host, path /, Secure. */
export const SESSION_COOKIE = '__Host-homeroom_session';

/** Audience of browser-session tokens: a cookie token is never accepted as a bearer token. */
export const browserAudience = (apiAudience: string) => `${apiAudience}:browser`;

/**
 * Authenticates the caller from `Authorization: Bearer …` (or, where `cookie` is allowed and
 * the method is safe, the browser session cookie). The token must be valid for this
 * tenant: tenant A's token on tenant B's host is rejected. Needs tenantTransaction().
 */
export function authenticate(options: { cookie?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, keys } = c.get('services');
    const tenant = c.get('tenant');
    const header = c.req.header('authorization');
    let token: string | undefined;
    let via: 'bearer' | 'cookie' = 'bearer';
    let audience = config.JWT_AUDIENCE;
    if (header) {
      // The scheme is case-insensitive (RFC 9110 §11.1); the token68 syntax is not.
      const m = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header);
      if (!m) throw new ApiError('unauthenticated', 'Use an Authorization: Bearer token.');
      token = m[1];
    } else if (options.cookie && (c.req.method === 'GET' || c.req.method === 'HEAD')) {
      token = getCookie(c, SESSION_COOKIE);
      via = 'cookie';
      audience = browserAudience(config.JWT_AUDIENCE);
    }
    if (!token) {
      throw new ApiError('unauthenticated', undefined, {
        headers: { 'WWW-Authenticate': 'Bearer realm="homeroom"' },
      });
    }
    let claims;
    try {
      claims = await keys.verify(token, audience);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw invalidToken();
      throw err;
    }
    if (claims.tenant !== tenant.id) throw invalidToken();
    const principal = await loadPrincipal(c.get('tx'), claims, via);
    if (!principal) throw invalidToken();
    c.set('principal', principal);
    await next();
  };
}

const invalidToken = () =>
  new ApiError('unauthenticated', 'The token is invalid, expired or revoked.', {
    headers: { 'WWW-Authenticate': 'Bearer realm="homeroom", error="invalid_token"' },
  });

/** 403 unless the caller holds every listed permission through some role. */
export function requirePermission(...permissions: string[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    const missing = permissions.filter((p) => !principal.permissions.has(p));
    if (missing.length)
      throw new ApiError('forbidden', `Missing permission: ${missing.join(', ')}.`);
    await next();
  };
}
