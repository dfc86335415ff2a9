import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.js';
import { BASE_STYLE, html, join, raw, type Html, type HtmlValue } from './dashboards/html.js';
import { openApiDocument } from './openapi.js';

/**
 * `GET /docs`: the human API reference, rendered on the server from the app's own OpenAPI
 * document, so it can never drift from the routes. Plain HTML with inline styles: no
 * scripts, no external assets, readable without JavaScript.
 */

interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  items?: SchemaObject;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  allOf?: SchemaObject[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  nullable?: boolean;
}

interface MediaTypes {
  [mediaType: string]: { schema?: SchemaObject };
}

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: {
    name: string;
    in: string;
    required?: boolean;
    description?: string;
    schema?: SchemaObject;
  }[];
  requestBody?: { required?: boolean; description?: string; content?: MediaTypes };
  responses?: Record<string, { description?: string; content?: MediaTypes }>;
}

interface Document {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, SchemaObject> };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];
const PROBLEM = 'application/problem+json';

const anchor = (...parts: string[]) =>
  parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Description text: escaped, with Markdown's `code` spans kept as code. */
function prose(text: string): Html {
  const parts: HtmlValue[] = [];
  let last = 0;
  for (const m of text.matchAll(/`([^`]+)`/g)) {
    parts.push(text.slice(last, m.index), html`<code>${m[1]}</code>`);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return html`${parts}`;
}

const refName = (ref: string) => ref.replace(/^#\/components\/schemas\//, '');

const NOTHING = html``;
const ANY = html`<span class="muted">any</span>`;

/** A short, linked description of a schema: `Lead[]`, `string (uuid)`, `"a" | "b"`. */
function describe(schema: SchemaObject | undefined, depth = 0): Html {
  if (!schema) return ANY;
  if (schema.$ref) {
    const name = refName(schema.$ref);
    return html`<a href="#${anchor('schema', name)}"><code>${name}</code></a>`;
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives)
    return join(
      alternatives.map((s) => describe(s, depth)),
      ' | ',
    );
  if (schema.allOf)
    return join(
      schema.allOf.map((s) => describe(s, depth)),
      ' & ',
    );
  if (schema.enum)
    return join(
      schema.enum.map((v) => html`<code>${JSON.stringify(v)}</code>`),
      ' | ',
    );
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const nullable = types.includes('null') || schema.nullable === true;
  const main = types.filter((t) => t !== 'null');
  let text: Html;
  if (main[0] === 'array') text = html`${describe(schema.items, depth)}[]`;
  else if (main[0] === 'object' && schema.properties && depth < 1) {
    const fields = Object.entries(schema.properties).map(
      ([k, v]) =>
        html`<code>${k}</code>${schema.required?.includes(k) ? '' : '?'}: ${describe(v, depth + 1)}`,
    );
    text = html`{ ${join(fields, ', ')} }`;
  } else if (main.length) {
    text = html`<code>${main.join(' | ')}</code>${schema.format ? html` <span class="muted">(${schema.format})</span>` : ''}`;
  } else text = ANY;
  return nullable ? html`${text} | <code>null</code>` : text;
}

function constraints(schema: SchemaObject | undefined): Html {
  if (!schema) return NOTHING;
  const out: HtmlValue[] = [];
  if (schema.default !== undefined)
    out.push(html`default <code>${JSON.stringify(schema.default)}</code>`);
  if (schema.minimum !== undefined) out.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) out.push(`≤ ${schema.maximum}`);
  return out.length ? html` <span class="muted">(${join(out, ', ')})</span>` : NOTHING;
}

function contentList(content: MediaTypes | undefined): Html {
  if (!content) return html`<span class="muted">no body</span>`;
  return join(
    Object.entries(content).map(
      ([type, media]) => html`<code>${type}</code> ${describe(media.schema)}`,
    ),
    html`<br>`,
  );
}

const PUBLIC = html`None: public`;
const BEARER = html`Bearer token (<code>Authorization: Bearer …</code>)`;
const BEARER_OR_COOKIE = html`Bearer token (<code>Authorization: Bearer …</code>) or the browser session cookie set by <code>/login</code>`;

function renderOperation(method: string, path: string, op: Operation): Html {
  const id = anchor('op', method, path);
  const params = op.parameters ?? [];
  const responses = Object.entries(op.responses ?? {});
  const problems = responses.filter(([, r]) => r.content && PROBLEM in r.content);
  const others = responses.filter(([, r]) => !(r.content && PROBLEM in r.content));
  const auth =
    op.security && op.security.length === 0
      ? PUBLIC
      : op.security?.some((s) => 'browserSession' in s)
        ? BEARER_OR_COOKIE
        : BEARER;
  const parts: HtmlValue[] = [
    html`<section class="op" id="${id}">`,
    html`<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${path}</code></h3>`,
    op.summary ? html`<p class="summary">${prose(op.summary)}</p>` : '',
    op.description ? html`<p>${prose(op.description)}</p>` : '',
    html`<p><strong>Authentication:</strong> ${auth}</p>`,
  ];
  if (params.length) {
    parts.push(
      html`<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>`,
      ...params.map(
        (p) =>
          html`<tr><td><code>${p.name}</code>${p.required ? html` <span class="req">required</span>` : ''}</td><td>${p.in}</td><td>${describe(p.schema)}${constraints(p.schema)}</td><td>${prose(p.description ?? p.schema?.description ?? '')}</td></tr>`,
      ),
      html`</tbody></table>`,
    );
  }
  if (op.requestBody) {
    parts.push(
      html`<h4>Request body${op.requestBody.required ? html` <span class="req">required</span>` : ''}</h4><p>${contentList(op.requestBody.content)}</p>`,
    );
  }
  if (others.length) {
    parts.push(
      html`<h4>Responses</h4><table><thead><tr><th>status</th><th>description</th><th>body</th></tr></thead><tbody>`,
      ...others.map(
        ([status, r]) =>
          html`<tr><td><code>${status}</code></td><td>${prose(r.description ?? '')}</td><td>${contentList(r.content)}</td></tr>`,
      ),
      html`</tbody></table>`,
    );
  }
  if (problems.length) {
    parts.push(
      html`<h4>Problems</h4><p class="muted">As <code>${PROBLEM}</code> (<a href="#${anchor('schema', 'Problem')}"><code>Problem</code></a>):</p><ul class="problems">`,
      ...problems.map(
        ([status, r]) => html`<li><code>${status}</code> ${r.description ?? ''}</li>`,
      ),
      html`</ul>`,
    );
  }
  parts.push(html`</section>`);
  return join(parts.filter(Boolean), '\n');
}

function renderSchema(name: string, schema: SchemaObject): Html {
  const props = Object.entries(schema.properties ?? {});
  const body = props.length
    ? html`<table><thead><tr><th>field</th><th>type</th><th>description</th></tr></thead><tbody>${props.map(
        ([k, v]) =>
          html`<tr><td><code>${k}</code>${schema.required?.includes(k) ? html` <span class="req">required</span>` : ''}</td><td>${describe(v)}${constraints(v)}</td><td>${prose(v.description ?? '')}</td></tr>`,
      )}</tbody></table>`
    : html`<p>${describe({ ...schema, description: undefined })}</p>`;
  return html`<section class="schema" id="${anchor('schema', name)}"><h3><code>${name}</code></h3>${
    schema.description ? html`<p>${prose(schema.description)}</p>` : ''
  }${body}</section>`;
}

/** Renders the whole reference page from an OpenAPI 3.1 document. */
export function renderDocs(doc: Document): string {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'Other';
      const list = byTag.get(tag) ?? [];
      list.push({ method, path, op });
      byTag.set(tag, list);
    }
  }
  const tags = [...byTag.keys()].sort((a, b) => a.localeCompare(b));
  const toc = tags.map(
    (tag) =>
      html`<li><a href="#${anchor('tag', tag)}">${tag}</a><ul>${byTag
        .get(tag)!
        .map(
          ({ method, path, op }) =>
            html`<li><a href="#${anchor('op', method, path)}"><span class="method ${method}">${method.toUpperCase()}</span> <code>${path}</code></a>${op.summary ? ` — ${op.summary}` : ''}</li>`,
        )}</ul></li>`,
  );
  const sections = tags.map(
    (tag) =>
      html`<section id="${anchor('tag', tag)}"><h2>${tag}</h2>\n${join(
        byTag.get(tag)!.map(({ method, path, op }) => renderOperation(method, path, op)),
        '\n',
      )}</section>`,
  );
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, schema]) => renderSchema(name, schema));
  const title = `${doc.info.title} ${doc.info.version}`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — reference</title><style>${STYLE}</style></head>
<body><main>
<h1>${title}</h1>
${doc.info.description ? html`<p>${prose(doc.info.description)}</p>` : ''}
<ul class="conventions">
<li>The tenant (and, on a school’s own site, the school) comes from the <code>Host</code> header.</li>
<li>JSON bodies use snake_case; ids are UUIDs; times are ISO-8601 UTC; dates are <code>YYYY-MM-DD</code>.</li>
<li>Lists page with <code>limit</code> and an opaque <code>cursor</code>; follow <code>next_cursor</code> until it is null.</li>
<li>Every error is an RFC 9457 problem (<code>${PROBLEM}</code>) with a stable <code>type</code>, field errors in <code>invalid_params</code>, and the <code>request_id</code> that every response also carries as <code>x-request-id</code>.</li>
<li>The machine-readable description is at <a href="/openapi.json"><code>/openapi.json</code></a>.</li>
</ul>
<nav aria-label="Contents"><h2>Contents</h2><ul>${toc}<li><a href="#schemas">Schemas</a></li></ul></nav>
${join(sections, '\n')}
<section id="schemas"><h2>Schemas</h2>
${join(schemas, '\n')}
</section>
</main></body></html>`.value;
}

const DOCS_STYLE = `
main{max-width:72rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.op{border-top:1px solid #d0d7de;padding-top:.5rem;margin-top:1.5rem}
.op h3{font-size:1.05rem;margin:.5rem 0}
.summary{font-weight:600}
.method{display:inline-block;min-width:3.6rem;text-align:center;border-radius:4px;padding:0 .35rem;font:600 .8rem ui-monospace,monospace;color:#fff;background:#57606a}
.method.get{background:#0969da}.method.post{background:#1a7f37}.method.put,.method.patch{background:#9a6700}.method.delete{background:#cf222e}
.req{color:#cf222e;font-size:.8rem}
nav ul ul{margin:.25rem 0 .75rem}
.schema h3{font-size:1rem}`;

const STYLE = raw(BASE_STYLE + DOCS_STYLE);

const DOCS_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  'x-frame-options': 'DENY',
  'cache-control': 'public, max-age=300',
} as const;

/** Registers `GET /docs` (tenant-less: see TENANTLESS in api/app.ts). */
export function registerDocs(app: OpenAPIHono<AppEnv>): void {
  // The document is fixed once every route is registered; render it once per process/isolate.
  let page: string | undefined;
  app.get('/docs', (c) => {
    page ??= renderDocs(openApiDocument(app) as unknown as Document);
    return c.body(page, 200, DOCS_HEADERS);
  });
}
