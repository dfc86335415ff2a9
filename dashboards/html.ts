/**
 * HTML text helpers and the shared look of every server-rendered leadership page (the
 * dashboards and the API's index and reference pages). Pure strings: safe to import on
 * workerd.
 */

/** Escapes text for HTML element content and quoted attribute values. */
export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

/** Shared look of the pages rendered here: readable on a phone, printable. */
export const BASE_STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:1.75rem 0 .5rem}
a{color:#0b5cad}small,.muted{color:#57606a}
ul{padding-left:1.25rem}li{margin:.25rem 0}
@media print{a{color:inherit;text-decoration:none}}`;
