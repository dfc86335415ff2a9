/**
 * The HTML template every server-rendered page is written in (the dashboards, and the API's
 * sign-in, home, index and reference pages), and their shared look. Pure strings: safe to
 * import on workerd and in the rendering threads.
 *
 * `html` escapes every value it is given unless the value is itself `Html` (markup built by
 * `html`, or a trusted string such as Plot's SVG or a stylesheet marked with `raw`), so a
 * text can only reach a page escaped. It is synchronous and typed: values are text, numbers,
 * fragments, lists of them, or nothing (`null`, `undefined`, `false`); any other object is a
 * type error rather than `[object Object]` on a page.
 */

/** Markup that is placed as is: built by `html`, or trusted and marked with `raw`. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = string | number | Html | null | undefined | false | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const SPECIAL = /[&<>"']/;
const SPECIALS = /[&<>"']/g;

/** Escapes text for HTML element content and quoted attribute values. */
const escapeHtml = (s: string): string =>
  SPECIAL.test(s) ? s.replace(SPECIALS, (ch) => ESCAPES[ch]!) : s;

const markup = (v: HtmlValue): string => {
  if (typeof v === 'string') return escapeHtml(v);
  if (v instanceof Html) return v.value;
  if (typeof v === 'number') return String(v);
  if (v === null || v === undefined || v === false) return '';
  let out = '';
  for (const item of v) out += markup(item);
  return out;
};

/** The tagged template: `html\`<p>${text}</p>\`` escapes `text`, keeps `Html` values as they are. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += markup(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Trusted markup, placed unescaped: Plot's SVG, the pages' own stylesheets. */
export const raw = (trusted: string): Html => new Html(trusted);

/** The values in order, `separator` (text, escaped, or markup) between them. */
export function join(values: readonly HtmlValue[], separator: string | Html): Html {
  const sep = markup(separator);
  let out = '';
  for (let i = 0; i < values.length; i++) out += (i > 0 ? sep : '') + markup(values[i]!);
  return new Html(out);
}

/** Shared look of the pages rendered here: readable on a phone, printable. */
export const BASE_STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:1.75rem 0 .5rem}
a{color:#0b5cad}small,.muted{color:#57606a}
ul{padding-left:1.25rem}li{margin:.25rem 0}
@media print{a{color:inherit;text-decoration:none}}`;
