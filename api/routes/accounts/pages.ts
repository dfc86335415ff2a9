import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html, raw, type Html } from '../../../dashboards/html.js';
import { ACCEPT_PATH, acceptInvitation, openInvitation } from '../../accounts/invitations.js';
import { openReset, RESET_PATH } from '../../accounts/passwords.js';
import type { AppEnv } from '../../app-env.js';
import { recordAuthEvent } from '../../auth/sessions.js';
import { secondFactorOf } from '../../auth/mfa.js';
import { ApiError } from '../../problems.js';
import { startMfaChallenge } from '../auth/mfa-pages.js';
import {
  crossSite,
  DEFAULT_NEXT,
  htmlErrors,
  finishBrowserSignIn,
} from '../auth/browser-session.js';
import { pageHeaders, sha256Base64, stylesheet } from '../auth/login-page.js';
import { finishReset, limitResetsPerAddress, RESET_REQUESTED, startReset } from './passwords.js';

/**
 * The browser forms of the account life cycle, outside the OpenAPI document like /login:
 * accepting an invitation, asking for a reset link, setting a new password.
 *
 * CSRF: every form post is refused (403) when the browser says it came from another site —
 * `Sec-Fetch-Site` other than same-origin/none, or an `Origin` that is not this host
 * (`crossSite`, the check /login uses) — and the pages forbid framing and send
 * `form-action 'self'`. A token in a form is the credential itself (the invitation or reset
 * token), which another site cannot know; the Origin check also stops a site from posting
 * its own token to sign a victim into the attacker's account.
 */

const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const FORGOT_PATH = '/forgot-password';

interface FormPage {
  title: string;
  sub: string;
  error?: string | undefined;
  notice?: string | undefined;
  /** The form, or null for a page with a message only. */
  form: Html | null;
  links?: Html;
}

async function page(c: Context<AppEnv>, status: 200 | 400 | 403 | 404 | 429, p: FormPage) {
  const tenant = c.get('tenant');
  const accent =
    tenant.branding.primaryColor && HEX_COLOUR.test(tenant.branding.primaryColor)
      ? tenant.branding.primaryColor
      : '#1f5fbf';
  const css = `${stylesheet(accent)}\n.notice{margin:0 0 1rem;padding:.6rem .8rem;border-radius:.4rem;border:1px solid var(--accent)}`;
  const body = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${p.title} · ${tenant.name}</title>
<style>${raw(css)}</style>
</head>
<body>
<main>
<h1>${tenant.name}</h1>
<p class="sub">${p.sub}</p>
${p.error ? html`<p class="error" role="alert">${p.error}</p>\n` : ''}${p.notice ? html`<p class="notice" role="status">${p.notice}</p>\n` : ''}${p.form ?? ''}
${p.links ?? html`<p class="links"><a href="/login">Back to sign-in</a></p>`}
</main>
</body>
</html>
`;
  return c.html(body.value, status, pageHeaders(`'sha256-${await sha256Base64(css)}'`));
}

const passwordFields = html`<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="1024" autofocus>
<label for="confirm">New password, again</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="12" maxlength="1024">`;

function tokenForm(action: string, token: string, button: string): Html {
  return html`<form method="post" action="${action}">
<input type="hidden" name="token" value="${token}">
${passwordFields}
<button type="submit">${button}</button>
</form>`;
}

const field = (form: Record<string, unknown>, name: string) => {
  const v = form[name];
  return typeof v === 'string' ? v : '';
};

async function formOf(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  try {
    return await c.req.parseBody();
  } catch {
    return {};
  }
}

const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;
const tokenOf = (raw: string | undefined) => (raw && TOKEN.test(raw) ? raw : null);

const CROSS_SITE =
  'This form came from another site and was refused. Open the link from your email again.';

const invalidInvitation = (c: Context<AppEnv>) =>
  page(c, 404, {
    title: 'Invitation',
    sub: 'Accept your invitation',
    error:
      'This invitation link is no longer valid: it was used already, replaced by a newer one, revoked, or it expired. Ask your school to send a new invitation.',
    form: null,
  });

const invalidReset = (c: Context<AppEnv>) =>
  page(c, 404, {
    title: 'Reset password',
    sub: 'Choose a new password',
    error: 'This reset link is no longer valid: it was used already or it expired.',
    form: null,
    links: html`<p class="links"><a href="${FORGOT_PATH}">Ask for a new link</a> · <a href="/login">Sign in</a></p>`,
  });

/** The forgot-password form, with the address typed so far. */
const forgotForm = (email = '') => html`<form method="post" action="${FORGOT_PATH}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="${email}" autofocus>
<button type="submit">Send me a reset link</button>
</form>`;

export function registerAccountPages(app: OpenAPIHono<AppEnv>): void {
  registerAcceptPage(app);
  registerAcceptForm(app);
  registerForgotPage(app);
  registerForgotForm(app);
  registerResetPage(app);
  registerResetForm(app);
}

/** GET of the invitation page: the form to choose a password. */
function registerAcceptPage(app: OpenAPIHono<AppEnv>): void {
  app.get(ACCEPT_PATH, (c) =>
    htmlErrors(c, async () => {
      const token = tokenOf(c.req.query('token'));
      const open = token ? await openInvitation(c.get('tx'), token) : null;
      if (!token || !open) return invalidInvitation(c);
      return page(c, 200, {
        title: 'Invitation',
        sub: `Welcome, ${open.firstName}. Choose a password for ${open.email}.`,
        form: tokenForm(ACCEPT_PATH, token, 'Set password and sign in'),
      });
    }),
  );
}

/** POST of the invitation page: sets the password and signs in. */
function registerAcceptForm(app: OpenAPIHono<AppEnv>): void {
  app.post(ACCEPT_PATH, (c) =>
    htmlErrors(c, async () => {
      const form = await formOf(c);
      const token = tokenOf(field(form, 'token'));
      if (crossSite(c))
        return page(c, 403, {
          title: 'Invitation',
          sub: 'Accept your invitation',
          error: CROSS_SITE,
          form: null,
        });
      const open = token ? await openInvitation(c.get('tx'), token) : null;
      if (!token || !open) return invalidInvitation(c);
      const retry = (error: string) =>
        page(c, 400, {
          title: 'Invitation',
          sub: `Welcome, ${open.firstName}. Choose a password for ${open.email}.`,
          error,
          form: tokenForm(ACCEPT_PATH, token, 'Set password and sign in'),
        });
      const password = field(form, 'password');
      if (password !== field(form, 'confirm')) return retry('The two passwords differ.');
      const outcome = await acceptInvitation(c.get('tx'), token, password);
      if (!outcome.ok)
        return outcome.reason === 'invalid'
          ? invalidInvitation(c)
          : retry(outcome.detail ?? 'Choose another password.');

      await recordAuthEvent(c.get('tx'), c, {
        action: 'invitation.accept',
        entityType: 'invitation',
        entityId: outcome.invitationId,
        actorUserId: outcome.userId,
        after: { user_id: outcome.userId, via: 'browser' },
      });
      // Signed in as after /login: a second factor the user owes comes first.
      const secondFactor = await secondFactorOf(c.get('tx'), outcome.userId);
      if (secondFactor !== 'none') {
        return startMfaChallenge(
          c,
          { id: outcome.userId, rehashed: false, secondFactor },
          DEFAULT_NEXT,
        );
      }
      return finishBrowserSignIn(c, outcome.userId, DEFAULT_NEXT, { via: 'invitation' });
    }),
  );
}

/** GET of the forgot-password page. */
function registerForgotPage(app: OpenAPIHono<AppEnv>): void {
  app.get(FORGOT_PATH, (c) =>
    htmlErrors(c, () =>
      page(c, 200, {
        title: 'Forgot password',
        sub: 'We will email you a link to choose a new password.',
        form: forgotForm(),
      }),
    ),
  );
}

/** POST of the forgot-password page: mails a reset link. */
function registerForgotForm(app: OpenAPIHono<AppEnv>): void {
  app.post(FORGOT_PATH, (c) =>
    htmlErrors(c, async () => {
      const form = await formOf(c);
      const sub = 'We will email you a link to choose a new password.';
      if (crossSite(c))
        return page(c, 403, {
          title: 'Forgot password',
          sub,
          error: CROSS_SITE,
          form: forgotForm(),
        });
      const email = field(form, 'email').trim();
      if (email.length < 3 || email.length > 320)
        return page(c, 400, {
          title: 'Forgot password',
          sub,
          error: 'Enter your email address.',
          form: forgotForm(email),
        });
      try {
        await limitResetsPerAddress(c, email);
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== 'rate_limited') throw err;
        for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
        return page(c, 429, {
          title: 'Forgot password',
          sub,
          error: 'Too many requests for this address. Please try again later.',
          form: forgotForm(email),
        });
      }
      await startReset(c, email);
      c.header('cache-control', 'no-store');
      return page(c, 200, { title: 'Forgot password', sub, notice: RESET_REQUESTED, form: null });
    }),
  );
}

/** GET of the reset page: the form to choose a new password. */
function registerResetPage(app: OpenAPIHono<AppEnv>): void {
  app.get(RESET_PATH, (c) =>
    htmlErrors(c, async () => {
      const token = tokenOf(c.req.query('token'));
      const open = token ? await openReset(c.get('tx'), token) : null;
      if (!token || !open) return invalidReset(c);
      return page(c, 200, {
        title: 'Reset password',
        sub: `Choose a new password for ${open.email}.`,
        form: tokenForm(RESET_PATH, token, 'Set new password'),
      });
    }),
  );
}

/** POST of the reset page: sets the new password. */
function registerResetForm(app: OpenAPIHono<AppEnv>): void {
  app.post(RESET_PATH, (c) =>
    htmlErrors(c, async () => {
      const form = await formOf(c);
      const token = tokenOf(field(form, 'token'));
      if (crossSite(c))
        return page(c, 403, {
          title: 'Reset password',
          sub: 'Choose a new password',
          error: CROSS_SITE,
          form: null,
        });
      const open = token ? await openReset(c.get('tx'), token) : null;
      if (!token || !open) return invalidReset(c);
      const retry = (error: string) =>
        page(c, 400, {
          title: 'Reset password',
          sub: `Choose a new password for ${open.email}.`,
          error,
          form: tokenForm(RESET_PATH, token, 'Set new password'),
        });
      const password = field(form, 'password');
      if (password !== field(form, 'confirm')) return retry('The two passwords differ.');
      const outcome = await finishReset(c, token, password);
      if (!outcome.ok)
        return outcome.reason === 'invalid' ? invalidReset(c) : retry(outcome.detail);
      c.header('cache-control', 'no-store');
      return page(c, 200, {
        title: 'Reset password',
        sub: 'Your password was changed.',
        notice:
          'Your password was changed and every session was signed out. Sign in with the new password.',
        form: null,
        links: html`<p class="links"><a href="/login">Sign in</a></p>`,
      });
    }),
  );
}
