import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { AppEnv } from '../../app-env.js';
import type { InvalidParam } from '../../problems.js';
import type { TenantContext } from '../../../db/control-plane.js';

/**
 * Small server-rendered pages of the public endpoints: the answer to a plain form post
 * (thank-you, what to fix) and the embeddable form. They may be shown inside a school's
 * site (an iframe), so their CSP lets exactly the tenant's own sites frame them and lets
 * nothing load but their own nonce'd style and script.
 */

/** Only plain hex colours from branding reach a stylesheet: no CSS injection through it. */
const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export function accentOf(tenant: Pick<TenantContext, 'branding'>): string {
  const c = tenant.branding.primaryColor;
  return c && HEX_COLOUR.test(c) ? c : '#1f5fbf';
}

/** A fresh CSP nonce (128 random bits, base64). */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * CSP source expressions for the tenant's site hosts, as CORS accepts them: http or https,
 * any port only on `localhost` names (development).
 */
export function siteSources(hosts: readonly string[]): string[] {
  return hosts.flatMap((h) =>
    h === 'localhost' || h.endsWith('.localhost')
      ? [`http://${h}:*`, `https://${h}:*`]
      : [`http://${h}`, `https://${h}`],
  );
}

/** Headers of a public page: its CSP (nonce'd style and script), no caching, no sniffing. */
export function pageHeaders(
  nonce: string,
  siteHosts: readonly string[],
  options: { script?: boolean } = {},
): Record<string, string> {
  const sites = siteSources(siteHosts);
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${options.script ? `'nonce-${nonce}'` : "'none'"}`,
      `style-src 'nonce-${nonce}'`,
      `form-action 'self' ${sites.join(' ')}`.trim(),
      `frame-ancestors ${sites.length ? sites.join(' ') : "'none'"}`,
      "base-uri 'none'",
    ].join('; '),
    // same-origin, not no-referrer: the latter makes browsers send `Origin: null` on a form
    // post, which the CORS check refuses.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

/** The stylesheet of every public page; `--accent` is the tenant's colour. */
function stylesheet(accent: string): string {
  return `
:root{color-scheme:light;--accent:${accent};--radius:.4rem}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:transparent}
main{max-width:36rem;margin:0 auto;padding:1.25rem}
h1{margin:0 0 .5rem;font-size:1.35rem}
label{display:block;margin:1rem 0 .25rem;font-weight:600}
.hint{font-weight:400;opacity:.75}
input,select,textarea{width:100%;padding:.55rem .65rem;font:inherit;border:1px solid #8a8a8a;border-radius:var(--radius);background:#fff;color:#1b1b1b}
input:focus,select:focus,textarea:focus{outline:2px solid var(--accent);outline-offset:1px}
.consent{display:flex;gap:.6rem;align-items:flex-start;margin:1rem 0;font-weight:400}
.consent input{width:auto;margin-top:.3rem}
.trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
button{margin-top:1.25rem;padding:.65rem 1.4rem;font:inherit;font-weight:600;color:#fff;background:var(--accent);border:0;border-radius:var(--radius);cursor:pointer}
button:focus-visible{outline:2px solid #1b1b1b;outline-offset:2px}
.errors{margin:0 0 1rem;padding:.6rem .9rem;border-radius:var(--radius);background:#fdecea;border:1px solid #c62828}
.errors ul{margin:.25rem 0 0;padding-left:1.2rem}
`.trim();
}

/** The page frame: tenant name as the title, the stylesheet under the nonce. */
export function layout(
  tenant: Pick<TenantContext, 'name' | 'branding' | 'locale'>,
  nonce: string,
  title: string,
  body: HtmlEscapedString | Promise<HtmlEscapedString>,
  extraCss = '',
) {
  const lang = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(tenant.locale) ? tenant.locale : 'en';
  return html`<!doctype html>
    <html lang="${lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>${title} · ${tenant.name}</title>
        <style nonce="${nonce}">
          ${raw(stylesheet(accentOf(tenant)))}${raw(extraCss)}
        </style>
      </head>
      <body>
        <main>${body}</main>
      </body>
    </html> `;
}

/** Field names in problems are `form.email`, `json.school_id`: the part people know. */
const fieldOf = (name: string) => name.replace(/^(form|json|body)\./, '');

const LABELS: Record<string, string> = {
  guardian_name: 'Your name',
  email: 'Email',
  phone: 'Phone',
  student_first_name: 'Student’s first name',
  grade_interest: 'Grade',
  school_id: 'School',
  message: 'Message',
  consent: 'Consent',
  slot_id: 'Tour time',
  preferred_date: 'Preferred date',
  preferred_time: 'Preferred time',
  redirect: 'Thank-you page',
};

/** The answer to a successful form post without a thank-you page of the site's own. */
export function thankYouPage(c: Context<AppEnv>, nonce: string, kind: 'inquiry' | 'tour') {
  const tenant = c.get('tenant');
  const text =
    kind === 'tour'
      ? 'Thank you — we have your tour request and will be in touch to confirm it.'
      : 'Thank you — we have your inquiry and will be in touch soon.';
  return layout(
    tenant,
    nonce,
    'Thank you',
    html`<h1>Thank you</h1>
      <p role="status">${text}</p>`,
  );
}

/** The answer to a refused form post: what went wrong, field by field. */
export function errorPage(
  tenant: Pick<TenantContext, 'name' | 'branding' | 'locale'>,
  nonce: string,
  detail: string,
  invalid: readonly InvalidParam[] | undefined,
  back: string | null,
) {
  const items = (invalid ?? []).map((p) => {
    const field = fieldOf(p.name);
    return html`<li><strong>${LABELS[field] ?? field}</strong>: ${p.reason}</li>`;
  });
  return layout(
    tenant,
    nonce,
    'Please check the form',
    html`<h1>Please check the form</h1>
      <div class="errors" role="alert">
        <p>${items.length ? 'Some answers need another look:' : detail}</p>
        ${
          items.length
            ? html`<ul>
                ${items}
              </ul>`
            : ''
        }
      </div>
      ${back ? html`<p><a href="${back}">Back to the form</a></p>` : ''}`,
  );
}
