import { z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../app-env.js';
import { isTenantSiteHost, tenantSiteHosts } from '../../middleware/cors.js';
import { formFields, IDEMPOTENCY_FIELD, isFormPost } from '../../middleware/forms.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { errorPage, newNonce, pageHeaders, thankYouPage } from './pages.js';

/**
 * Plain HTML form posts to the public lead endpoints (`application/x-www-form-urlencoded`
 * and `multipart/form-data`), so that a school's site needs no script to send an inquiry:
 *
 * - the body is coerced into the JSON body's shape ({@link formBody}) and then validated by
 *   the same zod schema and handled by the same handler as JSON;
 * - a `redirect` field names the site's own thank-you page (303 after success); it must be
 *   an absolute http(s) address on one of the tenant's own (verified) site hosts, else the
 *   post is refused before anything is written — never an open redirect;
 * - without `redirect`, a browser (Accept: text/html) gets a small HTML page (thank-you or
 *   what to fix) and any other client the JSON or problem+json answer as before;
 * - `idempotency_key` in the form stands in for the header a form cannot send.
 */

/** Form fields that steer the answer and are not part of the submission. */
export const REDIRECT_FIELD = 'redirect';

const wantsHtml = (c: Context) => /\btext\/html\b/i.test(c.req.header('accept') ?? '');

const TRUE = new Set(['on', 'true', '1', 'yes']);

/**
 * A form body in the JSON body's shape: empty fields are absent, a ticked `consent` box
 * (`on`, `true`, `1`, `yes`) is `true`, and `redirect`/`idempotency_key` are dropped (they
 * steer the answer, see formPosts). Anything else stays a string, so the same schema
 * refuses what it would refuse as JSON. `reshape` maps form-only spellings (a tour's single
 * preferred date) onto the JSON fields.
 */
export function formBody<T extends z.ZodType>(
  schema: T,
  reshape: (fields: Record<string, unknown>) => Record<string, unknown> = (f) => f,
) {
  return z.preprocess((value) => {
    if (!value || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === REDIRECT_FIELD || k === IDEMPOTENCY_FIELD || v === '') continue;
      out[k] = v;
    }
    if (typeof out.consent === 'string' && TRUE.has(out.consent.trim().toLowerCase())) {
      out.consent = true;
    }
    return reshape(out);
  }, schema);
}

/** No whitespace or backslash anywhere, no `@` before the path; scheme and `//` spelled out. */
const REDIRECT_SHAPE = /^https?:\/\/[^\\\s/?#@]+(?:[/?#][^\\\s]*)?$/i;

/**
 * The thank-you address of a form post, when it is safe to send a browser there: an
 * absolute http(s) URL without userinfo whose host is one of the tenant's own site hosts.
 * Relative and protocol-relative addresses, other schemes, backslashes, whitespace and
 * control characters are refused outright rather than normalised: browsers and servers
 * disagree on them, and that disagreement is what open redirects are made of.
 */
export async function allowedRedirect(
  c: Context<AppEnv>,
  value: string | string[] | undefined,
  location: 'form' | 'query' = 'form',
): Promise<URL | null> {
  if (value === undefined || value === '') return null;
  const refuse = (reason: string) =>
    new ApiError('validation_failed', 'The thank-you page is not on this school’s website.', {
      invalidParams: [{ name: `${location}.${REDIRECT_FIELD}`, reason }],
    });
  if (typeof value !== 'string' || value.length > 2048) throw refuse('must be one address');
  if (!REDIRECT_SHAPE.test(value)) {
    throw refuse('must be an absolute http(s) address, e.g. https://www.example.org/thanks');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse('must be an absolute http(s) address');
  }
  if (url.username || url.password) throw refuse('must not contain a user name or password');
  const local = url.hostname === 'localhost' || url.hostname.endsWith('.localhost');
  if (url.port && !local) throw refuse('must not name a port');
  if (!(await isTenantSiteHost(c, url.hostname))) {
    throw refuse('must be on one of this school’s own (verified) website domains');
  }
  return url;
}

/** A same-site page to link back to from an error page: the Referer, when it is one. */
async function backLink(c: Context<AppEnv>): Promise<string | null> {
  const referer = c.req.header('referer');
  if (!referer) return null;
  try {
    return (await allowedRedirect(c, referer))?.href ?? null;
  } catch {
    return null;
  }
}

/** Replaces the response wholesale (no headers of the JSON answer carried over but ours). */
function replace(c: Context<AppEnv>, res: Response): void {
  const kept = new Headers(c.res.headers);
  kept.delete('content-type');
  kept.delete('content-length');
  for (const [k, v] of res.headers) kept.set(k, v);
  c.res = undefined;
  c.res = new Response(res.body, { status: res.status, headers: kept });
}

async function htmlAnswer(
  c: Context<AppEnv>,
  status: number,
  render: (nonce: string) => Promise<string> | string,
): Promise<Response> {
  const nonce = newNonce();
  const headers = pageHeaders(nonce, await tenantSiteHosts(c));
  return new Response(await render(nonce), { status, headers });
}

async function problemOf(res: Response): Promise<{ detail: string; invalid?: InvalidParam[] }> {
  try {
    const p = (await res.clone().json()) as {
      detail?: string;
      title?: string;
      invalid_params?: InvalidParam[];
    };
    return { detail: p.detail ?? p.title ?? 'The request was refused.', invalid: p.invalid_params };
  } catch {
    return { detail: 'The request was refused.' };
  }
}

/**
 * Route middleware of the public lead endpoints (first in the route's list, before
 * `idempotency()`): turns the JSON answer of a form post into what a browser needs. The
 * idempotency store keeps the JSON answer, so a replay is rendered the same way.
 */
export function formPosts(kind: 'inquiry' | 'tour'): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!isFormPost(c)) {
      // The body is optional in the route definition only (see inquiries.ts).
      if (!c.req.header('content-type') && !(await c.req.text())) {
        throw new ApiError('validation_failed', 'The request has no body.', {
          invalidParams: [{ name: 'body', reason: 'required: JSON or an HTML form' }],
        });
      }
      return next();
    }
    const browser = wantsHtml(c);
    let redirect: URL | null;
    try {
      redirect = await allowedRedirect(c, (await formFields(c))[REDIRECT_FIELD]);
    } catch (err) {
      if (!(err instanceof ApiError) || !browser) throw err;
      const back = await backLink(c);
      return htmlAnswer(c, err.status, async (n) =>
        String(await errorPage(c.get('tenant'), n, err.message, err.invalidParams, back)),
      );
    }
    await next();
    const res = c.res;
    if (res.status >= 200 && res.status < 300) {
      if (redirect) {
        replace(c, new Response(null, { status: 303, headers: { location: redirect.href } }));
      } else if (browser) {
        replace(
          c,
          await htmlAnswer(c, res.status, async (n) => String(await thankYouPage(c, n, kind))),
        );
      }
      return;
    }
    if (browser && res.status >= 400 && res.status < 500) {
      const { detail, invalid } = await problemOf(res);
      const back = await backLink(c);
      replace(
        c,
        await htmlAnswer(c, res.status, async (n) =>
          String(await errorPage(c.get('tenant'), n, detail, invalid, back)),
        ),
      );
    }
  };
}
