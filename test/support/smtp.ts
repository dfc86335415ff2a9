import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on an ephemeral loopback port, started by a test: it receives what the
 * mail worker sends (plain SMTP, no auth) and parses every message with mailparser.
 * `refuse` makes it answer the next messages with an SMTP error instead.
 */
export interface CaughtMail {
  envelopeFrom: string;
  envelopeTo: string[];
  parsed: ParsedMail;
  /** The raw message as received. */
  raw: string;
}

export interface SmtpCatcher {
  port: number;
  url: string;
  mails: CaughtMail[];
  /** Answers the next `times` messages with `code` (4xx: try later; 5xx: refused for good). */
  refuse(times: number, code: number, message?: string): void;
  /** Resolves with the first mail (in arrival order) `match` accepts; polls until `timeoutMs`. */
  waitFor(match: (m: CaughtMail) => boolean, timeoutMs?: number): Promise<CaughtMail>;
  /** The mails sent to an address. */
  to(address: string): CaughtMail[];
  close(): Promise<void>;
}

export async function startSmtpCatcher(): Promise<SmtpCatcher> {
  const mails: CaughtMail[] = [];
  let refusals: { times: number; code: number; message: string } | null = null;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        if (refusals && refusals.times > 0) {
          refusals.times--;
          const err = new Error(refusals.message) as Error & { responseCode: number };
          err.responseCode = refusals.code;
          return callback(err);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            mails.push({
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
              parsed,
              raw,
            });
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  const catcher: SmtpCatcher = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    refuse(times, code, message = code >= 500 ? 'mailbox unavailable' : 'try again later') {
      refusals = { times, code, message };
    },
    async waitFor(match, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = mails.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching mail within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    to(address) {
      return mails.filter((m) => m.envelopeTo.includes(address.toLowerCase()));
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return catcher;
}

/** The first link with `path` in a mail's text body. */
export function linkIn(mail: CaughtMail, path: string): string {
  const text = mail.parsed.text ?? '';
  const m = new RegExp(`https?://[^\\s]*${path.replace(/[/?]/g, '\\$&')}[^\\s]*`).exec(text);
  if (!m) throw new Error(`no ${path} link in: ${text}`);
  return m[0];
}
