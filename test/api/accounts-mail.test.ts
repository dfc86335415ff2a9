import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../db/log.js';
import { ControlPlane } from '../../workers/control.js';
import { deliverJobOptions, DELIVER_JOB } from '../../workers/mail-contract.js';
import { createInlineMailer, smtpTransport } from '../../workers/mail.js';
import { call } from '../support/api.js';
import { bearer, login } from '../support/api-world.js';
import { createAccountsWorld, type AccountsWorld } from './accounts-fixtures.js';

/** The mail worker: SMTP delivery, retries and backoff, the delivery log, branding. */

const ALPHA = 'alpha.test';
let w: AccountsWorld;

beforeAll(async () => {
  w = await createAccountsWorld('acct_mail', { TENANT_CACHE_TTL_MS: '0' });
}, 120_000);

afterAll(async () => {
  await w?.close();
});

let n = 0;
/** An outbox row written as the API writes one (a password-changed notice: no secret). */
async function outboxRow(payload: Record<string, unknown> = {}, template = 'password_changed') {
  const to = `mail.test${++n}@example.org`;
  const r = await w.db.query<{ id: string }>(
    `with o as (insert into outbox (tenant_id, template, to_address, to_name, from_name, payload)
                values ($1, $2, $3, 'Mo', 'Alpha Academy', $4) returning id)
     insert into mail_deliveries (tenant_id, outbox_id, event) select $1, id, 'queued' from o
     returning outbox_id as id`,
    [
      w.world.alpha.id,
      template,
      to,
      JSON.stringify({
        first_name: 'Mo',
        tenant_name: 'Alpha Academy',
        forgot_link: 'http://alpha.test/forgot-password',
        ...payload,
      }),
    ],
  );
  return { id: r.rows[0]!.id, to };
}

interface RowState {
  status: string;
  attempts: number;
  last_error: string | null;
  log: { event: string; attempt: number; detail: string | null }[];
}

async function state(id: string): Promise<RowState> {
  const row = await w.db.query(`select status, attempts, last_error from outbox where id = $1`, [
    id,
  ]);
  const log = await w.db.query(
    `select event, attempt, detail from mail_deliveries where outbox_id = $1 order by created_at, attempt`,
    [id],
  );
  return {
    ...row.rows[0],
    log: log.rows as { event: string; attempt: number; detail: string | null }[],
  };
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const enqueue = (id: string) =>
  w.mail.queue.add(
    DELIVER_JOB,
    { tenantId: w.world.alpha.id, outboxId: id },
    deliverJobOptions(id),
  );

describe('mail delivery', () => {
  it('retries a temporary SMTP refusal with backoff, then delivers; the log tells the story', async () => {
    const row = await outboxRow();
    w.smtp.refuse(1, 451, 'greylisted, try again');
    await enqueue(row.id);
    const mail = await w.smtp.waitFor((m) => m.envelopeTo.includes(row.to), 30_000);
    expect(mail.parsed.subject).toBe('Your Alpha Academy password was changed');
    const s = await until(async () => {
      const x = await state(row.id);
      return x.status === 'sent' ? x : undefined;
    });
    expect(s.attempts).toBe(2);
    expect(s.log.map((l) => l.event)).toEqual(['queued', 'retry', 'sent']);
    expect(s.log[1]!.detail).toMatch(/451|greylisted/);
  }, 60_000);

  it('marks a mail the server refuses for good (5xx) as failed with the reason, without retrying', async () => {
    const row = await outboxRow();
    w.smtp.refuse(1, 550, 'no such mailbox');
    await enqueue(row.id);
    const s = await until(async () => {
      const x = await state(row.id);
      return x.status === 'failed' ? x : undefined;
    });
    expect(s.attempts).toBe(1);
    expect(s.last_error).toMatch(/550|no such mailbox/);
    expect(s.log.map((l) => l.event)).toEqual(['queued', 'failed']);
  });

  it('fails a mail that cannot be rendered (no safe link) instead of sending it', async () => {
    const row = await outboxRow({ link: 'javascript:alert(1)' }, 'invitation');
    await enqueue(row.id);
    const s = await until(async () => {
      const x = await state(row.id);
      return x.status === 'failed' ? x : undefined;
    });
    expect(s.last_error).toMatch(/not an http\(s\) URL/);
    expect(w.smtp.to(row.to)).toEqual([]);
  });

  it('a second job for a delivered row sends nothing', async () => {
    const row = await outboxRow();
    await enqueue(row.id);
    await w.smtp.waitFor((m) => m.envelopeTo.includes(row.to));
    await until(async () => ((await state(row.id)).status === 'sent' ? true : undefined));
    await w.mail.queue.add(
      DELIVER_JOB,
      { tenantId: w.world.alpha.id, outboxId: row.id },
      { removeOnComplete: true },
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(w.smtp.to(row.to)).toHaveLength(1);
  });

  it('the in-process mailer (no Redis) delivers the same way, and its sweep finds what waits', async () => {
    const directory = new ControlPlane(w.world.t.env, { cacheTtlMs: 0 });
    const mailer = createInlineMailer({
      directory,
      transport: smtpTransport(w.smtp.url),
      from: 'no-reply@homeroom.test',
      log: createLogger('error'),
      retryDelayMs: 50,
    });
    try {
      const row = await outboxRow();
      w.smtp.refuse(2, 421, 'busy');
      expect(await mailer.sweep()).toBeGreaterThanOrEqual(1);
      await mailer.idle();
      const s = await state(row.id);
      expect(s.status).toBe('sent');
      expect(s.log.map((l) => l.event)).toEqual(['queued', 'retry', 'retry', 'sent']);
    } finally {
      await mailer.close();
      await directory.close();
    }
  });
});

describe('per-tenant sender and branding', () => {
  it('uses the tenant’s sender name, reply-to, colour and logo', async () => {
    const control = new pg.Client({ connectionString: w.world.t.adminUrl() });
    await control.connect();
    try {
      const done = await control.query(`update tenants set branding = $2 where id = $1`, [
        w.world.alpha.id,
        JSON.stringify({
          primaryColor: '#aa3300',
          logoUrl: 'https://cdn.example.org/alpha.png',
          mailFromName: 'Alpha Front Office',
          mailReplyTo: 'office@alpha.example.org',
        }),
      ]);
      expect(done.rowCount).toBe(1);
    } finally {
      await control.end();
    }
    const token = (await login(w.api, ALPHA, 'admin@alpha.test')).access_token;
    const r = await call(w.api, 'POST', '/v1/invitations', {
      host: ALPHA,
      headers: bearer(token),
      body: {
        kind: 'staff',
        email: 'branded@alpha.test',
        first_name: 'Bea',
        last_name: 'Branded',
        role: 'office_admin',
        org_unit_id: null,
      },
    });
    expect(r.status, r.text).toBe(201);
    const mail = await w.smtp.waitFor((m) => m.envelopeTo.includes('branded@alpha.test'));
    expect(mail.parsed.from?.value[0]).toEqual({
      name: 'Alpha Front Office',
      address: 'no-reply@homeroom.test',
    });
    expect(mail.envelopeFrom).toBe('no-reply@homeroom.test');
    expect(mail.parsed.replyTo?.value[0]?.address).toBe('office@alpha.example.org');
    expect(mail.parsed.html).toContain('#aa3300');
    expect(mail.parsed.html).toContain('src="https://cdn.example.org/alpha.png"');
    expect(mail.parsed.text).toContain(
      'Admin has invited you to join Alpha Academy as Office admin.',
    );
  });
});
