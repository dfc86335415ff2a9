/**
 * The browser sign-in page: self-contained HTML (no scripts, no external assets) under a
 * Content-Security-Policy that allows exactly its one stylesheet, by hash.
 */

import { html, raw } from '../../../dashboards/html.js';

/** Only plain hex colours from branding reach the stylesheet: no CSS injection through it. */
const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export function stylesheet(accent: string): string {
  return `
:root{color-scheme:light dark;--accent:${accent}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:Canvas;color:CanvasText}
main{width:min(24rem,100% - 2rem);padding:2rem 1.5rem;border:1px solid color-mix(in srgb,CanvasText 15%,transparent);border-radius:.75rem}
h1{margin:0;font-size:1.35rem}
.sub{margin:.25rem 0 1.5rem;opacity:.75}
label{display:block;margin:1rem 0 .25rem;font-weight:600}
input{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid color-mix(in srgb,CanvasText 35%,transparent);border-radius:.4rem;background:Field;color:FieldText}
input:focus{outline:2px solid var(--accent);outline-offset:1px}
button{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:var(--accent);border:0;border-radius:.4rem;cursor:pointer}
button:focus-visible{outline:2px solid CanvasText;outline-offset:2px}
.sso{margin:1.5rem 0 0;padding:1rem 0 0;border-top:1px solid color-mix(in srgb,CanvasText 15%,transparent);list-style:none}
.sso a{display:block;margin:.5rem 0;padding:.6rem;text-align:center;font-weight:600;color:inherit;border:1px solid color-mix(in srgb,CanvasText 35%,transparent);border-radius:.4rem;text-decoration:none}
.error{margin:0 0 1rem;padding:.6rem .8rem;border-radius:.4rem;background:color-mix(in srgb,#c62828 15%,Canvas);border:1px solid #c62828}
.links{margin-top:1.25rem;font-size:.9rem}
`.trim();
}

export async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

export interface LoginPageInput {
  tenantName: string;
  accentColour?: string | undefined;
  next: string;
  email?: string;
  error?: string;
  /** Single sign-on providers the tenant offers ("Sign in with <name>"). */
  sso?: { id: string; name: string }[];
}

/** The page and the security headers that must travel with it. */
export async function renderLoginPage(
  input: LoginPageInput,
): Promise<{ html: string; headers: Record<string, string> }> {
  const accent =
    input.accentColour && HEX_COLOUR.test(input.accentColour) ? input.accentColour : '#1f5fbf';
  const css = stylesheet(accent);
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in · ${input.tenantName}</title>
<style>${raw(css)}</style>
</head>
<body>
<main>
<h1>${input.tenantName}</h1>
<p class="sub">Sign in to Homeroom</p>
${input.error ? html`<p class="error" role="alert">${input.error}</p>\n` : ''}<form method="post" action="/login">
<input type="hidden" name="next" value="${input.next}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="${input.email ?? ''}"${input.error ? '' : html` autofocus`}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${input.error ? html` autofocus` : ''}>
<button type="submit">Sign in</button>
</form>
${
  input.sso?.length
    ? html`<ul class="sso">${input.sso.map(
        (p) =>
          html`<li><a href="/login/sso/${p.id}?next=${encodeURIComponent(input.next)}">Sign in with ${p.name}</a></li>`,
      )}</ul>
`
    : ''
}
<p class="links"><a href="/forgot-password">Forgot your password?</a></p>
</main>
</body>
</html>
`;
  return { html: page.value, headers: pageHeaders(`'sha256-${await sha256Base64(css)}'`) };
}

/** A minimal page for failures that must not show more than a request id. */
export function renderErrorPage(
  title: string,
  message: string,
): { html: string; headers: Record<string, string> } {
  const page = html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body><h1>${title}</h1><p>${message}</p><p><a href="/login">Back to sign-in</a></p></body>
</html>
`;
  return { html: page.value, headers: pageHeaders(null) };
}

export function pageHeaders(styleSource: string | null): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      `style-src ${styleSource ?? "'none'"}`,
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    // same-origin, not no-referrer: the latter makes browsers send `Origin: null` on the
    // form post, which the cross-site check would then refuse.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}
