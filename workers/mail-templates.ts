import { UnrecoverableError } from 'bullmq';
import { html, raw, type Html } from '../dashboards/html.js';
import type { MailTemplate } from '../db/schema/accounts.js';

/**
 * The mail templates: each a function of an outbox row's payload returning a subject, a
 * plain-text body and an HTML body. The HTML is written with `html` (dashboards/html.ts),
 * which escapes every value, so a name like `<script>` arrives as text; the tenant's
 * branding (name, accent colour, https logo) was checked when the row was written and is
 * escaped again here.
 */

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

type Payload = Record<string, unknown>;

const str = (p: Payload, key: string): string => {
  const v = p[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
};
// Plain-text lines and subjects: no control characters (a subject is a header).
const plain = (s: string) => s.replace(/[\r\n\t\u0000-\u001f\u007f]+/g, ' ').trim();
const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

function linkOf(p: Payload, key = 'link'): string {
  const link = str(p, key);
  if (!/^https?:\/\/[^\s"'<>]+$/.test(link)) {
    throw new UnrecoverableError(`mail payload: ${key} is not an http(s) URL`);
  }
  return link;
}

function dateOf(p: Payload, key: string): string {
  const d = new Date(str(p, key));
  if (Number.isNaN(d.getTime())) return '';
  const timeZone = str(p, 'timezone') || 'UTC';
  try {
    return new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone }).format(d);
  } catch {
    return new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(d);
  }
}

/** The branded frame every HTML mail shares: the tenant's name, colour and logo. */
function frame(p: Payload, title: string, body: Html): string {
  const accent = HEX_COLOUR.test(str(p, 'accent')) ? str(p, 'accent') : '#1f5fbf';
  const logo = /^https:\/\/[^\s"'<>]+$/.test(str(p, 'logo_url')) ? str(p, 'logo_url') : null;
  const tenant = str(p, 'tenant_name');
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#fff;border-radius:8px;border-top:4px solid ${raw(accent)}">
<tr><td style="padding:24px 28px">
${logo ? html`<img src="${logo}" alt="${tenant}" height="40" style="display:block;margin-bottom:12px">` : ''}
<p style="margin:0 0 16px;font-weight:600;color:#57606a">${tenant}</p>
${body}
</td></tr></table>
</td></tr></table>
</body>
</html>
`.value;
}

function button(p: Payload, link: string, label: string): Html {
  const accent = HEX_COLOUR.test(str(p, 'accent')) ? str(p, 'accent') : '#1f5fbf';
  return html`<p style="margin:24px 0"><a href="${link}" style="display:inline-block;padding:12px 20px;background:${raw(accent)};color:#fff;text-decoration:none;border-radius:6px;font-weight:600">${label}</a></p>
<p style="font-size:13px;color:#57606a">Or paste this address into your browser:<br>${link}</p>`;
}

function invitation(p: Payload): RenderedMail {
  const link = linkOf(p);
  const tenant = str(p, 'tenant_name');
  const name = str(p, 'first_name');
  const role = str(p, 'role');
  const place = str(p, 'place');
  const inviter = str(p, 'inviter');
  const expires = dateOf(p, 'expires_at');
  const what = p.kind === 'guardian' ? 'as a parent' : role ? `as ${role}` : '';
  const where = place ? ` at ${place}` : '';
  const subject = plain(`You are invited to ${tenant} on Homeroom`);
  const lead = `${inviter ? `${inviter} has invited you` : 'You have been invited'} to join ${tenant}${what ? ` ${what}` : ''}${where}.`;
  const text = [
    `Hello ${plain(name)},`,
    '',
    plain(lead),
    '',
    'Choose your password and sign in here:',
    link,
    '',
    expires ? `This link works once and expires on ${expires}.` : 'This link works once.',
    'If you did not expect this invitation, you can ignore this email.',
  ].join('\n');
  const body = html`<h1 style="font-size:20px;margin:0 0 12px">Hello ${name},</h1>
<p>${lead}</p>
${button(p, link, 'Accept the invitation')}
<p style="font-size:13px;color:#57606a">${expires ? `This link works once and expires on ${expires}.` : 'This link works once.'} If you did not expect this invitation, you can ignore this email.</p>`;
  return { subject, text, html: frame(p, subject, body) };
}

function passwordReset(p: Payload): RenderedMail {
  const link = linkOf(p);
  const tenant = str(p, 'tenant_name');
  const minutes = str(p, 'minutes') || '30';
  const subject = plain(`Reset your ${tenant} password`);
  const text = [
    `Hello ${plain(str(p, 'first_name'))},`,
    '',
    `Someone asked to reset the password of your ${plain(tenant)} account. To choose a new one, open:`,
    link,
    '',
    `The link works once, for ${minutes} minutes. If you did not ask for this, ignore this email: your password stays as it is.`,
  ].join('\n');
  const body = html`<h1 style="font-size:20px;margin:0 0 12px">Hello ${str(p, 'first_name')},</h1>
<p>Someone asked to reset the password of your ${tenant} account.</p>
${button(p, link, 'Choose a new password')}
<p style="font-size:13px;color:#57606a">The link works once, for ${minutes} minutes. If you did not ask for this, ignore this email: your password stays as it is.</p>`;
  return { subject, text, html: frame(p, subject, body) };
}

function passwordChanged(p: Payload): RenderedMail {
  const tenant = str(p, 'tenant_name');
  const forgot = linkOf(p, 'forgot_link');
  const subject = plain(`Your ${tenant} password was changed`);
  const text = [
    `Hello ${plain(str(p, 'first_name'))},`,
    '',
    `The password of your ${plain(tenant)} account was just changed, and your other sessions were signed out.`,
    `If this was not you, reset your password now: ${forgot}`,
  ].join('\n');
  const body = html`<h1 style="font-size:20px;margin:0 0 12px">Hello ${str(p, 'first_name')},</h1>
<p>The password of your ${tenant} account was just changed, and your other sessions were signed out.</p>
<p>If this was not you, <a href="${forgot}">reset your password now</a>.</p>`;
  return { subject, text, html: frame(p, subject, body) };
}

const TEMPLATES: Record<MailTemplate, (p: Payload) => RenderedMail> = {
  invitation,
  password_reset: passwordReset,
  password_changed: passwordChanged,
};

/** Renders an outbox row; an unknown template or a payload without its link never succeeds. */
export function renderMail(template: string, payload: unknown): RenderedMail {
  const render = TEMPLATES[template as MailTemplate];
  if (!render) throw new UnrecoverableError(`unknown mail template "${template}"`);
  const p = payload && typeof payload === 'object' ? (payload as Payload) : {};
  return render(p);
}
