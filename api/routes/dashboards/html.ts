export {
  BASE_STYLE,
  html,
  join,
  raw,
  type Html,
  type HtmlValue,
} from '../../../dashboards/html.js';

/**
 * Headers of server-rendered leadership pages: no scripts, no external assets, never framed,
 * never stored by a shared cache (they hold a school's figures). Inline styles are the only
 * inline content (the page's `<style>` and the one Plot puts in each chart's SVG); with
 * `default-src 'none'` nothing else loads or runs.
 */
export const DASHBOARD_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'private, no-store',
  // same-origin, not no-referrer: the latter makes browsers send `Origin: null` on the
  // sign-out form's POST, which /logout refuses as cross-site.
  'referrer-policy': 'same-origin',
} as const;
