/**
 * A list behind a figure, and a person's record, as server-rendered pages in the
 * dashboards' look: no scripts, every text escaped by `html`, filters as a GET form whose
 * URL is the state (bookmark it, share it), the same rows as CSV one link away.
 */
import { PAGE_STYLE } from '../../../dashboards/layout.js';
import type { SignedIn } from '../auth/home-page.js';
import {
  LISTS,
  OVERDUE_BUCKETS,
  type ListInput,
  type ListKey,
  type ListRow,
} from '../../dashboards/lists.js';
import { html, join, raw, type Html } from './html.js';
import { SESSION_STYLE, sessionBar } from './session-bar.js';

export const LIST_STYLE = `${PAGE_STYLE}
${SESSION_STYLE}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;margin:1rem 0;padding:.75rem;border:1px solid #d0d7de;border-radius:.5rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:#57606a;gap:.15rem}
form.filters select,form.filters input{font:inherit;font-size:.95rem;padding:.25rem .4rem;border:1px solid #8c959f;border-radius:.3rem;max-width:14rem;color:#1b1f24;background:#fff}
form.filters button{font:inherit;padding:.3rem .9rem;border:1px solid #0b5cad;border-radius:.4rem;background:#0b5cad;color:#fff;cursor:pointer}
.actions{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;margin:.5rem 0}
table.list td,table.list th{text-align:left;white-space:normal}
table.list caption{text-align:left;caption-side:top;padding:.25rem 0}
.access th,.access td{white-space:normal;text-align:left;vertical-align:top}.access code{overflow-wrap:anywhere}
dl.record{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dl.record dt{color:#57606a}dl.record dd{margin:0}
@media print{form.filters,.actions{display:none}}`;

const STYLE = raw(LIST_STYLE);

export interface ListFilters {
  school?: string | undefined;
  grade?: string | undefined;
  term?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  days?: number | undefined;
  bucket?: string | undefined;
}

export interface Choices {
  schools: { id: string; name: string }[];
  grades: string[];
  terms: { id: string; name: string; start: string }[];
}

/** The query string of a view: the filters set, in a fixed order. */
export function queryOf(f: ListFilters, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) {
    if (v !== undefined && v !== '') params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** A document in the dashboards' shell with the signed-in bar. */
export function shell(o: { title: string; tenantName: string; who: SignedIn; body: Html }): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${o.title} · ${o.tenantName}</title><style>${STYLE}</style></head>
<body>${sessionBar(o.who)}<main>
${o.body}
</main></body></html>
`.value;
}

/** Back to the dashboards for leadership, to their own page for everyone else. */
const backLink = (who: SignedIn, dashboards: string): Html =>
  who.permissions.has('dashboards.read')
    ? html`<a href="${dashboards}">Dashboards</a>`
    : html`<a href="/home">Your page</a>`;

const option = (value: string, label: string, selected: boolean) =>
  html`<option value="${value}"${selected ? raw(' selected') : ''}>${label}</option>`;

function filterForm(key: ListKey, f: ListFilters, choices: Choices, input: ListInput): Html {
  const def = LISTS[key];
  const has = (x: (typeof def.filters)[number]) => def.filters.includes(x);
  const fields: Html[] = [];
  if (choices.schools.length > 1 || (f.school && choices.schools.length)) {
    fields.push(
      html`<label>School<select name="school">${option('', 'Every school you can see', !f.school)}${choices.schools.map(
        (s) => option(s.id, s.name, s.id === f.school),
      )}</select></label>`,
    );
  }
  if (has('grade')) {
    fields.push(
      html`<label>Grade level<select name="grade">${option('', 'All grades', !f.grade)}${choices.grades.map(
        (g) => option(g, g, g === f.grade),
      )}</select></label>`,
    );
  }
  if (has('window')) {
    fields.push(html`<label>Term<select name="term">${option('', 'As on the dashboards', !f.term)}${choices.terms.map(
      (t) => option(t.id, t.name, t.id === f.term),
    )}</select></label>
<label>From<input type="date" name="from" value="${f.from ?? ''}"></label>
<label>To<input type="date" name="to" value="${f.to ?? ''}"></label>`);
  }
  if (has('days')) {
    fields.push(
      html`<label>More than (days)<input type="number" name="days" min="1" max="3650" value="${String(input.days)}"></label>`,
    );
  }
  if (has('bucket')) {
    fields.push(
      html`<label>Days past due<select name="bucket">${OVERDUE_BUCKETS.map((b) =>
        option(b, b === '90+' ? 'over 90' : b.replace('-', '–'), b === input.bucket),
      )}</select></label>`,
    );
  }
  return html`<form class="filters" method="get" action="/dashboards/lists/${key}" aria-label="Filters">${fields}<button type="submit">Apply</button> <a href="/dashboards/lists/${key}">Clear</a></form>`;
}

export interface ListPageInput {
  key: ListKey;
  tenantName: string;
  who: SignedIn;
  input: Omit<ListInput, 'limit'>;
  windowSource: string;
  filters: ListFilters;
  choices: Choices;
  rows: readonly ListRow[];
  truncated: boolean;
}

export function renderList(p: ListPageInput): string {
  const def = LISTS[p.key];
  const school = p.choices.schools.find((s) => s.id === p.filters.school);
  const dated = def.filters.includes('window');
  const caption = `${def.title}${school ? ` — ${school.name}` : ''}: ${p.rows.length}${
    p.truncated ? '+' : ''
  } ${p.rows.length === 1 ? 'row' : 'rows'}`;
  const rows = p.rows.map(
    (r) =>
      html`<tr>${r.cells.map((cell, i) =>
        i === 0
          ? html`<th scope="row">${r.href ? html`<a href="${r.href}">${cell}</a>` : cell}</th>`
          : html`<td>${cell}</td>`,
      )}</tr>`,
  );
  const body = html`<header class="page"><p class="muted">${backLink(
    p.who,
    school ? `/dashboards/overview?school=${school.id}` : '/dashboards',
  )} · ${p.tenantName}</p>
<h1>${def.title}${school ? html` <span class="muted">· ${school.name}</span>` : ''}</h1>
<p class="stamp">${def.definition(p.input)}${
    dated
      ? ` Window: ${p.input.from} to ${p.input.to} (${p.windowSource}).`
      : ` Today: ${p.input.today}.`
  }</p></header>
${filterForm(p.key, p.filters, p.choices, p.input)}
<div class="actions"><a href="/dashboards/lists/${p.key}/csv${queryOf(p.filters)}" download>Download CSV</a>${
    p.truncated
      ? html`<span class="muted">The first 5,000 rows are shown; the CSV has every row.</span>`
      : ''
  }</div>
${
  p.rows.length
    ? html`<div class="scroll"><table class="list"><caption>${caption}</caption><thead><tr>${def.columns.map(
        (c) => html`<th scope="col">${c}</th>`,
      )}</tr></thead><tbody>${join(rows, '\n')}</tbody></table></div>`
    : html`<p class="empty">Nobody is on this list for this view.</p>`
}`;
  return shell({ title: def.title, tenantName: p.tenantName, who: p.who, body });
}

const pct = (n: number | null) => (n === null ? '—' : `${n.toFixed(1)}%`);
const dollars = (cents: number) =>
  `$${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export interface StudentPage {
  student: {
    first_name: string;
    last_name: string;
    preferred_name: string | null;
    student_number: string;
    grade_level: string;
    status: string;
    school: string | null;
  };
  attendance: {
    membership_days: number;
    marked_days: number;
    absent_days: number;
    excused_absence_days: number;
    ada_percent: number | null;
  };
  classes: { name: string; percent: number | null; missing: number; due: number }[];
}

export function renderStudent(
  o: StudentPage & { tenantName: string; who: SignedIn; from: string; to: string },
): string {
  const s = o.student;
  const name = `${s.preferred_name ?? s.first_name} ${s.last_name}`;
  const a = o.attendance;
  const absentShare = a.marked_days ? (a.absent_days * 100) / a.marked_days : null;
  const body = html`<header class="page"><p class="muted">${backLink(o.who, '/dashboards')} · ${o.tenantName}</p>
<h1>${name}</h1><p class="stamp">Student record · ${o.from} to ${o.to}</p></header>
<dl class="record"><dt>Student number</dt><dd>${s.student_number}</dd><dt>Grade level</dt><dd>${s.grade_level}</dd>
<dt>School</dt><dd>${s.school ?? '—'}</dd><dt>Status</dt><dd>${s.status}</dd></dl>
<h2>Attendance</h2>
<dl class="record"><dt>Membership days</dt><dd>${String(a.membership_days)}</dd><dt>Marked days</dt><dd>${String(a.marked_days)}</dd>
<dt>Absences</dt><dd>${String(a.absent_days)} (${String(a.excused_absence_days)} excused) · ${pct(absentShare)} of marked days</dd>
<dt>Attendance rate</dt><dd>${pct(a.ada_percent)}</dd></dl>
<h2>Current grades</h2>
${
  o.classes.length
    ? html`<div class="scroll"><table class="list"><thead><tr><th scope="col">Class</th><th scope="col">Percentage</th><th scope="col">Missing</th><th scope="col">Due</th></tr></thead><tbody>${o.classes.map(
        (k) =>
          html`<tr><th scope="row">${k.name}</th><td>${pct(k.percent === null ? null : Number(k.percent))}</td><td>${String(k.missing)}</td><td>${String(k.due)}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="empty">No graded work in this window.</p>`
}`;
  return shell({ title: name, tenantName: o.tenantName, who: o.who, body });
}

export interface AccountPage {
  account: { name: string; account_number: string; status: string; school: string | null };
  invoices: {
    number: string;
    issue_date: string | null;
    due_date: string | null;
    late: number | null;
    total: number;
    balance: number;
  }[];
}

export function renderAccount(
  o: AccountPage & { tenantName: string; who: SignedIn; today: string },
): string {
  const a = o.account;
  const due = o.invoices.reduce((n, i) => n + Number(i.balance), 0);
  const body = html`<header class="page"><p class="muted">${backLink(o.who, '/dashboards')} · ${o.tenantName}</p>
<h1>${a.name}</h1><p class="stamp">Family account · today ${o.today}</p></header>
<dl class="record"><dt>Account</dt><dd>${a.account_number}</dd><dt>School</dt><dd>${a.school ?? '—'}</dd>
<dt>Status</dt><dd>${a.status}</dd><dt>Balance due</dt><dd>${dollars(due)}</dd></dl>
<h2>Open invoices</h2>
${
  o.invoices.length
    ? html`<div class="scroll"><table class="list"><thead><tr><th scope="col">Invoice</th><th scope="col">Issued</th><th scope="col">Due</th><th scope="col">Days past due</th><th scope="col">Total</th><th scope="col">Balance</th></tr></thead><tbody>${o.invoices.map(
        (i) =>
          html`<tr><th scope="row">${i.number}</th><td>${i.issue_date ?? '—'}</td><td>${i.due_date ?? '—'}</td><td>${
            i.late !== null && i.late > 0 ? String(i.late) : '—'
          }</td><td>${dollars(Number(i.total))}</td><td>${dollars(Number(i.balance))}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="empty">No open invoices.</p>`
}`;
  return shell({ title: a.name, tenantName: o.tenantName, who: o.who, body });
}
