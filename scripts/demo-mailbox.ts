import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { browserAudience, SESSION_COOKIE } from '../api/auth/middleware.js';
import { pageHeaders, sha256Base64 } from '../api/routes/auth/login-page.js';
import type { Services } from '../api/services.js';
import { BASE_STYLE, html, raw } from '../dashboards/html.js';
import { normaliseHost } from '../db/control-plane.js';

/**
 * The demo's mail catcher: an SMTP server on loopback that keeps what the demo's mail
 * delivery sends (nothing leaves the machine), and the `/demo/mailbox` page where a tenant's
 * administrator reads the mail of their tenant — e.g. the invitation they just sent, whose
 * link they can then follow in a private window. Only `npm run demo` serves it.
 */

export interface CaughtMail {
  n: number;
  tenant: string;
  from: string;
  to: string;
  subject: string;
  date: Date;
  text: string;
  html: string | null;
}

const KEEP = 500;

export interface DemoMailbox {
  smtpUrl: string;
  /** Answers `/demo/mailbox` and `/demo/mailbox/<n>`; null for any other path. */
  handle(request: Request): Promise<Response | null>;
  close(): Promise<void>;
}

export async function startDemoMailbox(services: () => Services): Promise<DemoMailbox> {
  const mails: CaughtMail[] = [];
  let n = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    // Shutting down must not wait for a client that keeps its connection open.
    closeTimeout: 1_000,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (m) => {
          const header = m.headers.get('x-homeroom-tenant');
          mails.unshift({
            n: ++n,
            tenant: typeof header === 'string' ? header : '',
            from: m.from?.text ?? '',
            to: Array.isArray(m.to) ? m.to.map((t) => t.text).join(', ') : (m.to?.text ?? ''),
            subject: m.subject ?? '(no subject)',
            date: m.date ?? new Date(),
            text: m.text ?? '',
            html: typeof m.html === 'string' ? m.html : null,
          });
          mails.length = Math.min(mails.length, KEEP);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;

  const page = async (title: string, body: ReturnType<typeof html>, status = 200) => {
    const css = `${BASE_STYLE}\ntable{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #d0d7de}pre{white-space:pre-wrap;background:#f6f8fa;padding:1rem;border-radius:.4rem}`;
    const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><style>${raw(css)}</style></head>
<body><main><h1>${title}</h1>
<p class="muted">Demo only: every mail the demo sends is caught here (SMTP on 127.0.0.1:${port}); nothing leaves this machine.</p>
${body}</main></body></html>`;
    const headers = pageHeaders(`'sha256-${await sha256Base64(css)}'`);
    return new Response(doc.value, { status, headers });
  };

  /** Links in a text body, clickable; everything else escaped. */
  const linkify = (text: string) =>
    text
      .split(/(https?:\/\/[^\s<>"']+)/)
      .map((part, i) => (i % 2 === 1 ? html`<a href="${part}">${part}</a>` : html`${part}`));

  async function handle(request: Request): Promise<Response | null> {
    const url = new URL(request.url);
    const m = /^\/demo\/mailbox(?:\/(\d+))?\/?$/.exec(url.pathname);
    if (!m) return null;
    const s = services();
    const host = normaliseHost(request.headers.get('host') ?? url.host);
    const tenant = host ? await s.control.resolveHost(host) : null;
    if (!tenant) return new Response('Not found', { status: 404 });
    const cookie = request.headers
      .get('cookie')
      ?.split(/;\s*/)
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
      ?.slice(SESSION_COOKIE.length + 1);
    const claims = cookie
      ? await s.keys.verify(cookie, browserAudience(s.config.JWT_AUDIENCE)).catch(() => null)
      : null;
    if (!claims || claims.tenant !== tenant.id || !claims.roles.includes('network_admin')) {
      return page(
        'Demo mailbox',
        html`<p>Sign in as the demo administrator first: <a href="/login">sign in</a>, then come back to <a href="/demo/mailbox">/demo/mailbox</a>.</p>`,
        401,
      );
    }
    const own = mails.filter((x) => x.tenant === tenant.slug);
    if (m[1]) {
      const mail = own.find((x) => x.n === Number(m[1]));
      if (!mail)
        return page(
          'Demo mailbox',
          html`<p>No such mail. <a href="/demo/mailbox">All mail</a></p>`,
          404,
        );
      return page(
        mail.subject,
        html`<p><a href="/demo/mailbox">← All mail of ${tenant.name}</a></p>
<table><tr><th>From</th><td>${mail.from}</td></tr><tr><th>To</th><td>${mail.to}</td></tr><tr><th>Date</th><td>${mail.date.toISOString()}</td></tr></table>
<h2>Text</h2><pre>${linkify(mail.text)}</pre>
<p class="muted">Follow an invitation link in a private window: this one is signed in as the administrator.</p>`,
      );
    }
    return page(
      `Demo mailbox · ${tenant.name}`,
      own.length
        ? html`<table><thead><tr><th>#</th><th>To</th><th>Subject</th><th>Date (UTC)</th></tr></thead><tbody>
${own.map((x) => html`<tr><td>${x.n}</td><td>${x.to}</td><td><a href="/demo/mailbox/${x.n}">${x.subject}</a></td><td>${x.date.toISOString().slice(0, 19).replace('T', ' ')}</td></tr>\n`)}</tbody></table>`
        : html`<p>No mail yet. Invite someone (<code>POST /v1/invitations</code>, see <a href="/docs">the API docs</a>) or ask for a password reset at <a href="/forgot-password">/forgot-password</a>.</p>`,
    );
  }

  return {
    smtpUrl: `smtp://127.0.0.1:${port}`,
    handle,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
