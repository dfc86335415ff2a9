import type { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as t from '../../../db/schema/tenant.js';
import { html, raw, type Html } from '../../../dashboards/html.js';
import type { AppEnv } from '../../app-env.js';
import { recordFailure, type AuthenticatedUser } from '../../auth/credentials.js';
import {
  CHALLENGE_TTL_SECONDS,
  checkSecondFactor,
  completeSignIn,
  confirmEnrolment,
  issueChallenge,
  readChallenge,
  startEnrolment,
  type ChallengeKind,
} from '../../auth/mfa.js';
import { recordAuthEvent } from '../../auth/sessions.js';
import { ApiError } from '../../problems.js';
import {
  cookieAttributes,
  crossSite,
  field,
  finishBrowserSignIn,
  htmlErrors,
  safeNext,
} from './browser-session.js';
import { pageHeaders, renderErrorPage, sha256Base64, stylesheet } from './login-page.js';

/**
 * The browser's second step of signing in (docs/tenancy-and-security.md#two-factor-sign-in):
 * after the password, `/login` puts the challenge token in an HttpOnly cookie and sends the
 * browser to `/login/mfa` (enter a code) or `/login/mfa/enrol` (set up an authenticator, when
 * the tenant requires one of the user's role). Form posts are refused from other sites, as
 * /login's are.
 */

/** Holds the challenge token between the password and the code; `__Host-` pins it to this host. */
export const MFA_COOKIE = '__Host-homeroom_mfa';

const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const EXTRA_STYLE = `
.qr{display:block;margin:1rem auto;width:12rem;height:12rem;background:#fff}
.secret{font-family:ui-monospace,monospace;word-break:break-all}
.codes{font-family:ui-monospace,monospace;columns:2}
details{margin-top:1rem}
a.button{display:block;margin-top:1.5rem;padding:.7rem;text-align:center;font-weight:600;color:#fff;background:var(--accent);border-radius:.4rem;text-decoration:none}`;

async function page(c: Context<AppEnv>, status: 200 | 400 | 401 | 403, title: string, body: Html) {
  const tenant = c.get('tenant');
  const accent = tenant.branding.primaryColor;
  const css =
    stylesheet(accent && HEX_COLOUR.test(accent) ? accent : '#1f5fbf') + EXTRA_STYLE.trim();
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ${tenant.name}</title>
<style>${raw(css)}</style>
</head>
<body>
<main>
<h1>${tenant.name}</h1>
<p class="sub">${title}</p>
${body}
</main>
</body>
</html>
`;
  return c.html(doc.value, status, pageHeaders(`'sha256-${await sha256Base64(css)}'`));
}

const errorLine = (error?: string) =>
  error ? html`<p class="error" role="alert">${error}</p>\n` : '';

function codePage(c: Context<AppEnv>, status: 200 | 401 | 403, next: string, error?: string) {
  return page(
    c,
    status,
    'Two-step verification',
    html`${errorLine(error)}<form method="post" action="/login/mfa">
<input type="hidden" name="next" value="${next}">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" autofocus>
<details><summary>Use a recovery code instead</summary>
<label for="recovery_code">Recovery code</label>
<input id="recovery_code" name="recovery_code" maxlength="32" autocomplete="off">
</details>
<button type="submit">Verify</button>
</form>`,
  );
}

function enrolPage(
  c: Context<AppEnv>,
  status: 200 | 401 | 403,
  next: string,
  enrolment: { secret: string; qr_svg: string },
  error?: string,
) {
  return page(
    c,
    status,
    'Set up two-step verification',
    html`${errorLine(error)}<p>Your organisation requires a second step when you sign in. Scan this code with an authenticator app (for example Google Authenticator, Microsoft Authenticator or 1Password), then enter the 6-digit code it shows.</p>
<div class="qr" role="img" aria-label="QR code of your authenticator secret">${raw(enrolment.qr_svg)}</div>
<p>Or type this key: <span class="secret">${enrolment.secret}</span></p>
<form method="post" action="/login/mfa/enrol">
<input type="hidden" name="next" value="${next}">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>
<button type="submit">Turn on</button>
</form>`,
  );
}

/**
 * Answers a right password that still owes a second factor: the challenge goes into the
 * cookie and the browser to the page for it.
 */
export async function startMfaChallenge(
  c: Context<AppEnv>,
  user: Pick<AuthenticatedUser, 'id' | 'rehashed' | 'secondFactor'> & { via?: 'sso' },
  next: string,
): Promise<Response> {
  const kind: ChallengeKind = user.secondFactor === 'enrol' ? 'enrol' : 'verify';
  const challenge = await issueChallenge(c, user.id, kind);
  await recordAuthEvent(c.get('tx'), c, {
    action: 'auth.mfa_challenge',
    entityType: 'user',
    entityId: user.id,
    actorUserId: user.id,
    after: { via: user.via ?? 'browser', mfa: kind, password_rehashed: user.rehashed },
  });
  setCookie(c, MFA_COOKIE, challenge.challenge_token, {
    ...cookieAttributes,
    maxAge: CHALLENGE_TTL_SECONDS,
  });
  c.header('cache-control', 'no-store');
  const path = kind === 'enrol' ? '/login/mfa/enrol' : '/login/mfa';
  return c.redirect(`${path}?next=${encodeURIComponent(next)}`, 303);
}

/** The user of the challenge cookie, or null (absent, expired, forged or another tenant's). */
async function challengeUser(c: Context<AppEnv>, kind: ChallengeKind): Promise<string | null> {
  const token = getCookie(c, MFA_COOKIE);
  if (!token) return null;
  try {
    return await readChallenge(c, token, kind);
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}

const startOver = (c: Context<AppEnv>) => {
  deleteCookie(c, MFA_COOKIE, cookieAttributes);
  const { html: doc, headers } = renderErrorPage(
    'Please sign in again',
    'Your sign-in has expired or was not started here. Sign in with your email and password first.',
  );
  return c.html(doc, 401, headers);
};

const refusedCrossSite = (c: Context<AppEnv>) => {
  const { html: doc, headers } = renderErrorPage(
    'Sign-in refused',
    'This sign-in came from another site and was refused. Please sign in here.',
  );
  return c.html(doc, 403, headers);
};

async function formOf(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  try {
    return await c.req.parseBody();
  } catch {
    return {};
  }
}

async function accountOf(c: Context<AppEnv>, userId: string) {
  const [user] = await c
    .get('tx')
    .select({ email: t.users.email })
    .from(t.users)
    .where(and(eq(t.users.id, userId), isNull(t.users.deletedAt)));
  return { email: user?.email ?? '', issuer: `Homeroom (${c.get('tenant').name})` };
}

const WRONG_CODE = 'That code is incorrect or was already used. Try the next one.';

export function registerMfaPages(app: OpenAPIHono<AppEnv>): void {
  app.get('/login/mfa', (c) =>
    htmlErrors(c, async () => {
      if (!(await challengeUser(c, 'verify'))) return startOver(c);
      return codePage(c, 200, safeNext(c.req.query('next')));
    }),
  );

  app.post('/login/mfa', (c) =>
    htmlErrors(c, async () => {
      const form = await formOf(c);
      const next = safeNext(field(form, 'next') || c.req.query('next'));
      if (crossSite(c)) return refusedCrossSite(c);
      const userId = await challengeUser(c, 'verify');
      if (!userId) return startOver(c);
      const code = field(form, 'code').trim();
      const recovery = field(form, 'recovery_code').trim();
      const used = await checkSecondFactor(
        c,
        userId,
        recovery && !code ? { recoveryCode: recovery.slice(0, 64) } : { code: code.slice(0, 16) },
      );
      if (!used) {
        await recordFailure(c, userId);
        return codePage(c, 401, next, WRONG_CODE);
      }
      await completeSignIn(c.get('tx'), userId);
      deleteCookie(c, MFA_COOKIE, cookieAttributes);
      return finishBrowserSignIn(c, userId, next, { via: 'browser', mfa: used });
    }),
  );

  app.get('/login/mfa/enrol', (c) =>
    htmlErrors(c, async () => {
      const userId = await challengeUser(c, 'enrol');
      if (!userId) return startOver(c);
      const enrolment = await startEnrolment(c, userId, await accountOf(c, userId), {
        reuse: true,
      }).catch((err: unknown) => {
        // Finished in another tab meanwhile: the next sign-in asks for a code instead.
        if (err instanceof ApiError && err.code === 'conflict') return null;
        throw err;
      });
      if (!enrolment) return startOver(c);
      return enrolPage(c, 200, safeNext(c.req.query('next')), enrolment);
    }),
  );

  app.post('/login/mfa/enrol', (c) =>
    htmlErrors(c, async () => {
      const form = await formOf(c);
      const next = safeNext(field(form, 'next') || c.req.query('next'));
      if (crossSite(c)) return refusedCrossSite(c);
      const userId = await challengeUser(c, 'enrol');
      if (!userId) return startOver(c);
      const codes = await confirmEnrolment(c, userId, field(form, 'code').trim().slice(0, 16));
      if (!codes) {
        await recordFailure(c, userId);
        const enrolment = await startEnrolment(c, userId, await accountOf(c, userId), {
          reuse: true,
        });
        return enrolPage(c, 401, next, enrolment, WRONG_CODE);
      }
      await recordAuthEvent(c.get('tx'), c, {
        action: 'auth.mfa_enrolled',
        entityType: 'user',
        entityId: userId,
        actorUserId: userId,
        after: { method: 'totp', recovery_codes: codes.length },
      });
      await completeSignIn(c.get('tx'), userId);
      deleteCookie(c, MFA_COOKIE, cookieAttributes);
      const signedIn = await finishBrowserSignIn(c, userId, next, {
        via: 'browser',
        mfa: 'enrolment',
      });
      // The session cookie is set; the recovery codes are shown once before going on.
      const to = signedIn.headers.get('location') ?? '/home';
      return page(
        c,
        200,
        'Two-step verification is on',
        html`<p>Keep these recovery codes somewhere safe. Each one signs you in once if you lose your phone; they are not shown again.</p>
<ul class="codes">${codes.map((code) => html`<li>${code}</li>`)}</ul>
<a class="button" href="${to}">Continue</a>`,
      );
    }),
  );
}
