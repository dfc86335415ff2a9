/**
 * The /home of the roles that sign in without the dashboards: a teacher's classes today,
 * the office's school today, a family's children, a student's own record. One page with a
 * part per role the user holds; leadership and other roles keep the plain /home.
 */
import type { Context } from 'hono';
import { todayIn } from '../../../db/dates.js';
import type { AppEnv } from '../../app-env.js';
import {
  childrenToday,
  familyBalance,
  officeToday,
  teacherToday,
  type ChildSummary,
} from '../../dashboards/role-pages.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { html, join, type Html } from './html.js';
import { LIST_STYLE, shell } from './list-page.js';
import { pageHeaders, sha256Base64 } from '../auth/login-page.js';
import { accessOf } from '../auth/home-page.js';
import { whoIsSignedIn } from './session-bar.js';
import { publishedWindow } from './lists.js';

const pct = (n: number | null) => (n === null ? '—' : `${Number(n).toFixed(1)}%`);
const dollars = (cents: number) =>
  `$${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

const holds = (c: Context<AppEnv>, ...roles: string[]) =>
  c.get('principal').grants.some((g) => roles.includes(g.role));

/**
 * The headers of a role's /home: as the sign-in pages', its one stylesheet allowed by its
 * hash (no chart on it, so no inline style of Plot's).
 */
export const roleHomeHeaders = async () =>
  pageHeaders(`'sha256-${await sha256Base64(LIST_STYLE)}'`);

/** The role page for the caller, or null when none of their roles has one. */
export async function roleHome(c: Context<AppEnv>): Promise<string | null> {
  const principal = c.get('principal');
  if (principal.permissions.has('dashboards.read')) return null;
  const teacher = holds(c, 'teacher', 'coach');
  const office = holds(c, 'office_admin');
  const parent = holds(c, 'parent');
  const student = holds(c, 'student');
  if (!teacher && !office && !parent && !student) return null;
  const tx = c.get('tx');
  const zone = c.get('tenant').timezone;
  const today = todayIn(zone);
  const parts: Html[] = [];

  if (teacher) {
    const classes = await teacherToday(tx, principal.userId, today);
    parts.push(
      html`<section><h2>Your classes today</h2>${
        classes.length
          ? html`<div class="scroll"><table class="list"><thead><tr><th scope="col">Class</th><th scope="col">School</th><th scope="col">Attendance today</th><th scope="col">Missing assignments</th><th scope="col">Students below 60%</th></tr></thead><tbody>${classes.map(
              (k) =>
                html`<tr><th scope="row">${k.name}</th><td>${k.school ?? '—'}</td><td>${
                  !k.schoolDay
                    ? 'no school today'
                    : k.taken
                      ? 'taken'
                      : html`<strong>not taken yet</strong>`
                }</td><td>${String(k.missing)}</td><td>${String(k.below60)}</td></tr>`,
            )}</tbody></table></div>
<p class="actions"><a href="/dashboards/lists/missing-work">Students with missing work</a><a href="/dashboards/lists/failing">Students below 60%</a><a href="/dashboards/lists/chronic-absence">Chronically absent</a></p>`
          : html`<p class="empty">You teach no class this term.</p>`
      }</section>`,
    );
  }

  if (office) {
    const day = await officeToday(tx, principal, today, zone);
    await logRecordAccess(
      c,
      day.absences.map((a) => a.id),
      'list',
    );
    const without = [
      ...day.schoolsWithout.map((s) => html`<li>${s.name} (whole school)</li>`),
      ...day.classesWithout.map((k) => html`<li>${k.name}</li>`),
    ];
    parts.push(html`<section><h2>Your school today</h2>
<h3>No attendance yet</h3>${
      without.length
        ? html`<ul>${without}</ul>`
        : html`<p class="empty">Attendance is in for every class due today.</p>`
    }
<h3>Unexcused absences</h3>${
      day.absences.length
        ? html`<ul>${day.absences.map(
            (a) =>
              html`<li><a href="/dashboards/students/${a.id}">${a.name}</a> <span class="muted">grade ${a.grade_level}${a.school ? ` · ${a.school}` : ''}</span></li>`,
          )}</ul>`
        : html`<p class="empty">None recorded today.</p>`
    }
<h3>Invoices due</h3>
<p>${String(day.invoicesDue.week)} due this week (${dollars(day.invoicesDue.weekCents)}); ${String(
      day.invoicesDue.overdue,
    )} past due (${dollars(day.invoicesDue.overdueCents)}).</p>
<p class="actions"><a href="/dashboards/lists/overdue?bucket=31-60">31–60 days overdue</a><a href="/dashboards/lists/overdue?bucket=61-90">61–90</a><a href="/dashboards/lists/overdue?bucket=90%2B">over 90</a></p></section>`);
  }

  if (parent || student) {
    const window = await publishedWindow(c, today);
    const shown: ChildSummary[] = [];
    for (const who of [
      ...(parent ? ['parent' as const] : []),
      ...(student ? ['student' as const] : []),
    ]) {
      const kids = await childrenToday(tx, {
        userId: principal.userId,
        who,
        from: window.from,
        to: window.to,
        tenantZone: zone,
      });
      shown.push(...kids);
      parts.push(
        html`<section><h2>${who === 'parent' ? 'Your children' : 'Your record'}</h2><p class="muted">${window.from} to ${window.to}</p>${
          kids.length
            ? join(kids.map(childPart), '\n')
            : html`<p class="empty">No student record is linked to you yet.</p>`
        }</section>`,
      );
    }
    await logRecordAccess(
      c,
      shown.map((k) => k.id),
      'read',
    );
    if (parent) {
      const accounts = await familyBalance(tx, principal.userId);
      parts.push(
        html`<section><h2>Balance due</h2>${
          accounts.length
            ? html`<ul>${accounts.map(
                (a) =>
                  html`<li><a href="/dashboards/accounts/${a.id}">${a.name}</a>: ${dollars(a.balance)}${
                    a.next_due ? ` · oldest due ${a.next_due}` : ''
                  }</li>`,
              )}</ul>`
            : html`<p class="empty">No family account.</p>`
        }</section>`,
      );
    }
  }

  const who = await whoIsSignedIn(c);
  const body = html`<header class="page"><p class="muted">${who.tenantName}</p><h1>Today <span class="muted">· ${today}</span></h1></header>
${join(parts, '\n')}
<section class="access"><h2>Your access</h2><div class="scroll">${accessOf(who)}</div></section>`;
  return shell({ title: 'Today', tenantName: who.tenantName, who, body });
}

function childPart(k: ChildSummary): Html {
  const a = k.attendance;
  const absentShare = a.marked_days ? (a.absent_days * 100) / a.marked_days : null;
  return html`<article><h3><a href="/dashboards/students/${k.id}">${k.name}</a> <span class="muted">· grade ${k.grade_level}${
    k.school ? ` · ${k.school}` : ''
  }</span></h3>
<p>Attendance: ${pct(a.ada_percent)} present on ${String(a.marked_days)} marked days; ${String(a.absent_days)} absences (${pct(absentShare)}).</p>${
    k.classes.length
      ? html`<div class="scroll"><table class="list"><thead><tr><th scope="col">Class</th><th scope="col">Current grade</th><th scope="col">Missing</th></tr></thead><tbody>${k.classes.map(
          (g) =>
            html`<tr><th scope="row">${g.name}</th><td>${pct(g.percent)}</td><td>${String(g.missing)}</td></tr>`,
        )}</tbody></table></div>`
      : html`<p class="empty">No graded work in this window.</p>`
  }</article>`;
}
