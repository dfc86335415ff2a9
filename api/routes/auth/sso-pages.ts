import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { isUuid } from '../../../db/ids.js';
import type { AppEnv } from '../../app-env.js';
import { completeSignIn, secondFactorOf } from '../../auth/mfa.js';
import {
  finishSsoLogin,
  getProvider,
  SSO_LOGIN_TTL_SECONDS,
  SsoError,
  startSsoLogin,
  userForIdentity,
} from '../../auth/sso.js';
import { recordAuthEvent } from '../../auth/sessions.js';
import { commitDespiteRefusal } from '../../tenancy/middleware.js';
import { cookieAttributes, finishBrowserSignIn, htmlErrors, safeNext } from './browser-session.js';
import { renderErrorPage } from './login-page.js';
import { startMfaChallenge } from './mfa-pages.js';

/**
 * The browser's side of single sign-on (docs/tenancy-and-security.md#single-sign-on):
 * `GET /login/sso/{id}` sends the browser to the provider with a fresh state, nonce and PKCE
 * challenge (the state also in an HttpOnly cookie, so a callback is only accepted by the
 * browser that started it: no login CSRF); `GET /login/sso/callback` checks it all and
 * signs the matched user in — through the second step, when they owe one.
 */

export const SSO_COOKIE = '__Host-homeroom_sso';
export const SSO_CALLBACK = '/login/sso/callback';

/** This host's callback URL: https, except on localhost (the demo), where the request's scheme. */
function callbackUrl(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  const forwarded = c.get('services').config.TRUST_FORWARDED_HEADERS
    ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim()
    : undefined;
  const host = (forwarded ?? c.req.header('host') ?? url.host).toLowerCase();
  const hostname = host.replace(/:\d+$/, '');
  const local = hostname === 'localhost' || hostname.endsWith('.localhost');
  return `${local ? url.protocol : 'https:'}//${host}${SSO_CALLBACK}`;
}

function failure(c: Context<AppEnv>, status: 400 | 403, message: string) {
  deleteCookie(c, SSO_COOKIE, cookieAttributes);
  const { html, headers } = renderErrorPage('Single sign-on failed', message);
  return c.html(html, status, headers);
}

const NOT_COMPLETED =
  'Signing in with your organisation’s account could not be completed. Please start again from the sign-in page.';

export function registerSsoPages(app: OpenAPIHono<AppEnv>): void {
  app.get(SSO_CALLBACK, (c) =>
    htmlErrors(c, async () => {
      const state = c.req.query('state') ?? '';
      const code = c.req.query('code') ?? '';
      const providerError = c.req.query('error');
      if (!state || state.length > 256 || (!code && !providerError) || code.length > 4096) {
        return failure(c, 400, NOT_COMPLETED);
      }
      let identity;
      try {
        if (providerError) throw new SsoError('provider_refused', providerError.slice(0, 100));
        identity = await finishSsoLogin(c, { state, cookieState: getCookie(c, SSO_COOKIE), code });
      } catch (err) {
        if (!(err instanceof SsoError)) throw err;
        c.get('services').log.warn('single sign-on refused', {
          request_id: c.get('requestId'),
          tenant: c.get('tenant').id,
          reason: err.reason,
          detail: err.message,
        });
        // The spent state and the audit row commit although the page is a 4xx.
        await commitDespiteRefusal(c, (tx) =>
          recordAuthEvent(tx, c, {
            action: 'auth.sso_failed',
            entityType: 'tenant',
            entityId: c.get('tenant').id,
            actorUserId: null,
            after: { reason: err.reason },
          }),
        );
        return failure(c, err.reason === 'provider_unreachable' ? 400 : 403, NOT_COMPLETED);
      }
      deleteCookie(c, SSO_COOKIE, cookieAttributes);
      const provider = await getProvider(c.get('tx'), identity.providerId);
      const user = provider ? await userForIdentity(c, identity, provider) : null;
      if (!user) {
        await commitDespiteRefusal(c, (tx) =>
          recordAuthEvent(tx, c, {
            action: 'auth.sso_failed',
            entityType: 'sso_provider',
            entityId: identity.providerId,
            actorUserId: null,
            after: { reason: 'no_user', email: identity.email },
          }),
        );
        return failure(
          c,
          403,
          'There is no active account for this email here. Ask your school to invite you.',
        );
      }
      const next = safeNext(identity.next);
      const secondFactor = await secondFactorOf(c.get('tx'), user.id);
      if (secondFactor !== 'none') {
        return startMfaChallenge(
          c,
          { id: user.id, rehashed: false, secondFactor, via: 'sso' },
          next,
        );
      }
      await completeSignIn(c.get('tx'), user.id);
      return finishBrowserSignIn(c, user.id, next, {
        via: 'sso',
        provider_id: identity.providerId,
        user_created: user.created,
      });
    }),
  );

  app.get('/login/sso/:id', (c) =>
    htmlErrors(c, async () => {
      const id = c.req.param('id');
      const provider = isUuid(id)
        ? await getProvider(c.get('tx'), id, { enabledOnly: true })
        : null;
      if (!provider) {
        const { html, headers } = renderErrorPage(
          'Not found',
          'This sign-in option does not exist.',
        );
        return c.html(html, 404, headers);
      }
      let started;
      try {
        started = await startSsoLogin(c, provider, {
          redirectUri: callbackUrl(c),
          next: safeNext(c.req.query('next')),
        });
      } catch (err) {
        if (!(err instanceof SsoError)) throw err;
        c.get('services').log.warn('single sign-on provider unavailable', {
          request_id: c.get('requestId'),
          reason: err.reason,
          detail: err.message,
        });
        c.header('retry-after', '30');
        const { html, headers } = renderErrorPage(
          'Sign-in provider unavailable',
          `${provider.name} could not be reached. Please try again in a minute, or sign in with your password.`,
        );
        return c.html(html, 503, headers);
      }
      setCookie(c, SSO_COOKIE, started.state, {
        ...cookieAttributes,
        maxAge: SSO_LOGIN_TTL_SECONDS,
      });
      c.header('cache-control', 'no-store');
      return c.redirect(started.url, 303);
    }),
  );
}
