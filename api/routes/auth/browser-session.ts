import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../../app-env.js';
import { checkCredentials, INVALID_CREDENTIALS } from '../../auth/credentials.js';
import { InvalidTokenError } from '../../auth/jwt.js';
import { browserAudience, SESSION_COOKIE } from '../../auth/middleware.js';
import { loadPrincipal } from '../../auth/principal.js';
import { recordAuthEvent, revokeSession, startBrowserSession } from '../../auth/sessions.js';
import { browserAuthenticate } from '../dashboards/pages.js';
import { renderHomePage, signedIn } from './home-page.js';
import { renderErrorPage, renderLoginPage } from './login-page.js';

/**
 * The browser session (docs/tenancy-and-security.md#authentication): `/login`, `/logout` and
 * the signed-in user's `/home` as HTML routes outside the OpenAPI document. Leadership lands
 * on the dashboards, every other role on /home. The session is a cookie holding a JWT with
 * the browser audience, which `authenticate({ cookie: true })` accepts on safe methods only
 * and which is never accepted as a bearer token.
 */

export const DEFAULT_NEXT = '/dashboards';
export const HOME = '/home';
const BASE = 'https://homeroom.invalid';

/**
 * Where to go after signing in: a same-origin path, `/`, `/home` or under `/dashboards`, as the URL
 * parser normalises it (so `/dashboards/../x` is `/x` and refused). Anything else —
 * absolute or scheme-relative URLs, backslashes, control characters — falls back to the
 * default, so /login can never be used as an open redirect.
 */
export function safeNext(raw: string | undefined): string {
  if (!raw || raw.length > 2048 || !raw.startsWith('/')) return DEFAULT_NEXT;
  if (raw.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(raw)) return DEFAULT_NEXT;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== BASE) return DEFAULT_NEXT;
  const path = url.pathname;
  if (path !== '/' && path !== HOME && path !== '/dashboards' && !path.startsWith('/dashboards/'))
    return DEFAULT_NEXT;
  return path + url.search;
}

/**
 * True when a state-changing form post comes from another site (login CSRF: signing a
 * victim into the attacker's account; forced logout). Browsers send `Sec-Fetch-Site` and
 * `Origin` on form posts; clients that send neither are not browsers and are let through.
 */
export function crossSite(c: Context<AppEnv>): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return true;
  const origin = c.req.header('origin');
  if (origin === undefined) return false;
  const forwarded = c.get('services').config.TRUST_FORWARDED_HEADERS
    ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim()
    : undefined;
  const host = (forwarded ?? c.req.header('host') ?? new URL(c.req.url).host).toLowerCase();
  try {
    // `Origin: null` (opaque origins) does not parse and counts as cross-site.
    return new URL(origin).host.toLowerCase() !== host;
  } catch {
    return true;
  }
}

async function loginPage(
  c: Context<AppEnv>,
  status: 200 | 400 | 401 | 403,
  input: { next: string; email?: string; error?: string },
) {
  const tenant = c.get('tenant');
  const { html, headers } = await renderLoginPage({
    tenantName: tenant.name,
    accentColour: tenant.branding.primaryColor,
    ...input,
  });
  return c.html(html, status, headers);
}

/**
 * Runs an HTML handler so that an unexpected failure renders a plain page with the request
 * id (the details go to the log) instead of the JSON problem a browser would show raw.
 * The 500 still rolls the request's transaction back.
 */
export async function htmlErrors(c: Context<AppEnv>, handler: () => Promise<Response>) {
  try {
    return await handler();
  } catch (err) {
    c.get('services').log.error('unhandled error', {
      request_id: c.get('requestId'),
      path: c.req.path,
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    const { html, headers } = renderErrorPage(
      'Something went wrong',
      `Please try again. If it keeps happening, quote request id ${c.get('requestId')} to support.`,
    );
    return c.html(html, 500, headers);
  }
}

export const cookieAttributes = {
  httpOnly: true,
  secure: true,
  sameSite: 'Lax',
  path: '/',
} as const;

const field = (form: Record<string, unknown>, name: string) => {
  const v = form[name];
  return typeof v === 'string' ? v : '';
};

export function registerBrowserSession(app: OpenAPIHono<AppEnv>): void {
  app.get('/login', (c) =>
    htmlErrors(c, () => loginPage(c, 200, { next: safeNext(c.req.query('next')) })),
  );

  app.post('/login', (c) =>
    htmlErrors(c, async () => {
      let form: Record<string, unknown>;
      try {
        form = await c.req.parseBody();
      } catch {
        form = {};
      }
      const next = safeNext(field(form, 'next') || c.req.query('next'));
      if (crossSite(c)) {
        return loginPage(c, 403, {
          next,
          error: 'This sign-in came from another site and was refused. Please sign in here.',
        });
      }
      const email = field(form, 'email').trim();
      const password = field(form, 'password');
      if (!email || !password || email.length > 320 || password.length > 1024) {
        return loginPage(c, 400, { next, email, error: 'Enter your email and password.' });
      }
      const user = await checkCredentials(c, email, password);
      if (!user) return loginPage(c, 401, { next, email, error: INVALID_CREDENTIALS });

      const { config } = c.get('services');
      const session = await startBrowserSession(c, user.id, browserAudience(config.JWT_AUDIENCE));
      await recordAuthEvent(c.get('tx'), c, {
        action: 'auth.login',
        entityType: 'user',
        entityId: user.id,
        actorUserId: user.id,
        after: { via: 'browser', session_id: session.sid, password_rehashed: user.rehashed },
      });
      setCookie(c, SESSION_COOKIE, session.token, {
        ...cookieAttributes,
        maxAge: session.ttlSeconds,
      });
      c.header('cache-control', 'no-store');
      // The dashboards are for leadership: anyone else would land on a 403, so goes home.
      const principal = await loadPrincipal(
        c.get('tx'),
        { sub: user.id, tenant: c.get('tenant').id, sid: session.sid },
        'cookie',
      );
      const path = next.split('?')[0]!;
      const toDashboards =
        path === '/' || path === '/dashboards' || path.startsWith('/dashboards/');
      const canDashboards = principal?.permissions.has('dashboards.read') ?? false;
      return c.redirect(toDashboards && !canDashboards ? HOME : next, 303);
    }),
  );

  app.get(HOME, browserAuthenticate(), (c) =>
    htmlErrors(c, async () => {
      const who = await signedIn(c.get('tx'), c.get('principal'), c.get('tenant').name);
      const { html, headers } = await renderHomePage(who);
      return c.html(html, 200, headers);
    }),
  );

  app.post('/logout', (c) =>
    htmlErrors(c, async () => {
      if (crossSite(c)) {
        const { html, headers } = renderErrorPage(
          'Sign-out refused',
          'This sign-out came from another site. Use the sign-out button in Homeroom.',
        );
        return c.html(html, 403, headers);
      }
      const { config, keys } = c.get('services');
      const token = getCookie(c, SESSION_COOKIE);
      if (token) {
        try {
          const claims = await keys.verify(token, browserAudience(config.JWT_AUDIENCE));
          if (
            claims.tenant === c.get('tenant').id &&
            (await revokeSession(c.get('tx'), claims.sid))
          ) {
            await recordAuthEvent(c.get('tx'), c, {
              action: 'auth.logout',
              entityType: 'session',
              entityId: claims.sid,
              actorUserId: claims.sub,
              after: { via: 'cookie' },
            });
          }
        } catch (err) {
          // An expired or forged cookie has no session to end; clearing it is all we owe.
          if (!(err instanceof InvalidTokenError)) throw err;
        }
      }
      deleteCookie(c, SESSION_COOKIE, cookieAttributes);
      c.header('cache-control', 'no-store');
      return c.redirect('/login', 303);
    }),
  );
}
