import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../db/passwords.js';
import { call, startNodeApi, type ApiResponse, type ApiTarget } from '../support/api.js';
import { bearer, login } from '../support/api-world.js';
import { linkIn } from '../support/smtp.js';
import {
  createAccountsWorld,
  form,
  pathOf,
  STRONG,
  tokenOf,
  type AccountsWorld,
} from './accounts-fixtures.js';
import { expectProblem } from './staff-fixtures.js';

/** Password reset (request, link, completion) and change; enumeration, reuse, limits, CSRF. */

const ALPHA = 'alpha.test';
const BETA = 'beta.test';
const OLD = 'Original-Password-Maple-3';
const EMAIL_LIMIT = 3;
const IP_LIMIT = 4;

let w: AccountsWorld;
let ip = 0;
/** A client address of its own per call site: the per-IP limit is tested on purpose only. */
const nextIp = () => `198.51.100.${++ip}`;

beforeAll(async () => {
  w = await createAccountsWorld('acct_passwords', {
    TRUST_FORWARDED_HEADERS: 'true',
    PASSWORD_RESET_EMAIL_LIMIT: String(EMAIL_LIMIT),
    PASSWORD_RESET_RATE_LIMIT: String(IP_LIMIT),
  });
}, 120_000);

afterAll(async () => {
  await w?.close();
});

let n = 0;
/** An active alpha user with the OLD password. */
async function user(): Promise<{ id: string; email: string }> {
  const email = `reset.user${++n}@alpha.test`;
  const r = await w.db.query<{ id: string }>(
    `insert into users (tenant_id, email, password_hash, first_name, last_name)
     values ($1, $2, $3, 'Rae', 'Setter') returning id`,
    [w.world.alpha.id, email, await hashPassword(OLD)],
  );
  return { id: r.rows[0]!.id, email };
}

const api = (
  method: string,
  path: string,
  o: {
    host?: string;
    body?: unknown;
    headers?: Record<string, string>;
    rawBody?: string;
    ip?: string;
  } = {},
) =>
  call(w.api, method, path, {
    host: o.host ?? ALPHA,
    headers: { 'x-forwarded-for': o.ip ?? nextIp(), ...o.headers },
    ...(o.body !== undefined ? { body: o.body } : {}),
    ...(o.rawBody !== undefined ? { rawBody: o.rawBody } : {}),
  });

const forgot = (email: string, o: { host?: string; ip?: string } = {}) =>
  api('POST', '/v1/auth/password/forgot', { body: { email }, ...o });

async function resetToken(email: string, seen = 0): Promise<string> {
  await w.smtp.waitFor(
    () => w.smtp.to(email).filter((m) => m.parsed.text?.includes('/reset-password')).length > seen,
  );
  const mails = w.smtp.to(email).filter((m) => m.parsed.text?.includes('/reset-password'));
  return tokenOf(linkIn(mails.at(-1)!, '/reset-password?token='));
}

/** What may differ between two answers: ids, the rate-limit counters, timing headers. */
function comparable(r: ApiResponse) {
  const {
    date: _d,
    'x-request-id': _r,
    'ratelimit-remaining': _rr,
    'ratelimit-reset': _rs,
    ...headers
  } = r.headers;
  return { status: r.status, body: r.text, headers };
}

describe('password reset', () => {
  it('answers a known and an unknown address identically; only the known one gets a mail', async () => {
    const u = await user();
    const known = await forgot(u.email);
    const unknown = await forgot('nobody.here@alpha.test');
    expect(known.status).toBe(202);
    expect(comparable(known)).toEqual(comparable(unknown));
    const mail = await w.smtp.waitFor((m) => m.envelopeTo.includes(u.email));
    expect(mail.parsed.subject).toBe('Reset your Alpha Academy password');
    expect(mail.parsed.text).toContain('for 30 minutes');
    expect(w.smtp.to('nobody.here@alpha.test')).toEqual([]);
    // A disabled account is treated as unknown.
    const off = await user();
    await w.db.query(`update users set status = 'disabled' where id = $1`, [off.id]);
    expect(comparable(await forgot(off.email))).toEqual(comparable(unknown));
    // The browser form too.
    const formKnown = await api('POST', '/forgot-password', form({ email: u.email }));
    const formUnknown = await api(
      'POST',
      '/forgot-password',
      form({ email: 'nobody.else@alpha.test' }),
    );
    expect(formKnown.status).toBe(200);
    expect(formKnown.text).toBe(formUnknown.text);
  });

  it('completing a reset sets the password, revokes every session and refresh token, and the token works once', async () => {
    const u = await user();
    const session = await login(w.api, ALPHA, u.email, OLD);
    const other = await login(w.api, ALPHA, u.email, OLD);
    await forgot(u.email);
    const token = await resetToken(u.email);

    const weak = await api('POST', '/v1/auth/password/reset', {
      body: { token, password: 'qwertyuiop12' },
    });
    expectProblem(weak, 400, 'validation_failed');
    expect(weak.json.invalid_params[0].name).toBe('json.password');

    const done = await api('POST', '/v1/auth/password/reset', {
      body: { token, password: STRONG },
    });
    expect(done.status, done.text).toBe(204);
    for (const s of [session, other]) {
      expectProblem(
        await api('GET', '/v1/me', { headers: bearer(s.access_token) }),
        401,
        'unauthenticated',
      );
      const refresh = await api('POST', '/v1/auth/refresh', {
        body: { refresh_token: s.refresh_token },
      });
      expect(refresh.status).toBe(401);
    }
    await expect(login(w.api, ALPHA, u.email, OLD)).rejects.toThrow();
    await login(w.api, ALPHA, u.email, STRONG);

    const reuse = await api('POST', '/v1/auth/password/reset', {
      body: { token, password: 'Different-Strong-Pass-92' },
    });
    expectProblem(reuse, 400, 'validation_failed');
    expect(reuse.json.invalid_params[0].name).toBe('json.token');

    const audit = await w.staff.auditOf(u.id);
    expect(audit.map((x) => x.action)).toEqual(
      expect.arrayContaining(['auth.password_reset_request', 'auth.password_reset']),
    );
    // The user is told their password changed.
    await w.smtp.waitFor(
      (m) =>
        m.envelopeTo.includes(u.email) &&
        m.parsed.subject === 'Your Alpha Academy password was changed',
    );
  });

  it('a reset lifts a lockout', async () => {
    const u = await user();
    await w.db.query(
      `update users set failed_login_count = 5, locked_until = now() + interval '15 minutes' where id = $1`,
      [u.id],
    );
    await forgot(u.email);
    const token = await resetToken(u.email);
    expect(
      (await api('POST', '/v1/auth/password/reset', { body: { token, password: STRONG } })).status,
    ).toBe(204);
    await login(w.api, ALPHA, u.email, STRONG);
  });

  it('an expired token no longer works', async () => {
    const u = await user();
    await forgot(u.email);
    const token = await resetToken(u.email);
    await w.db.query(
      `update password_resets set expires_at = now() - interval '1 second' where user_id = $1`,
      [u.id],
    );
    expectProblem(
      await api('POST', '/v1/auth/password/reset', { body: { token, password: STRONG } }),
      400,
      'validation_failed',
    );
    expect((await api('GET', `/reset-password?token=${token}`)).status).toBe(404);
    await login(w.api, ALPHA, u.email, OLD);
  });

  it('the token expires after 30 minutes', async () => {
    const u = await user();
    await forgot(u.email);
    await resetToken(u.email);
    const r = await w.db.query(
      `select extract(epoch from expires_at - created_at)::int as s from password_resets where user_id = $1`,
      [u.id],
    );
    expect(r.rows[0].s).toBe(1800);
  });

  it('a token of one tenant is unknown on another tenant’s host', async () => {
    const u = await user();
    await forgot(u.email);
    const token = await resetToken(u.email);
    expectProblem(
      await api('POST', '/v1/auth/password/reset', {
        host: BETA,
        body: { token, password: STRONG },
      }),
      400,
      'validation_failed',
    );
    expect((await api('GET', `/reset-password?token=${token}`, { host: BETA })).status).toBe(404);
    expect(
      (await api('POST', '/v1/auth/password/reset', { body: { token, password: STRONG } })).status,
    ).toBe(204);
  });

  it('limits requests per address (429, known or not) and per client IP (429)', async () => {
    const u = await user();
    for (const email of [u.email, 'ghost@alpha.test']) {
      for (let i = 0; i < EMAIL_LIMIT; i++) expect((await forgot(email)).status).toBe(202);
      const limited = await forgot(email.toUpperCase());
      expectProblem(limited, 429, 'rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      const page = await api('POST', '/forgot-password', form({ email }));
      expect(page.status).toBe(429);
    }
    // The address limit is per tenant: beta's counter is its own.
    expect((await forgot(u.email, { host: BETA })).status).toBe(202);

    const addr = nextIp();
    for (let i = 0; i < IP_LIMIT; i++)
      expect((await forgot(`spray${i}@alpha.test`, { ip: addr })).status).toBe(202);
    expectProblem(await forgot('spray-last@alpha.test', { ip: addr }), 429, 'rate_limited');
  });

  it('the browser forms: reset through the page, cross-site posts refused', async () => {
    const u = await user();
    const evilForgot = await api(
      'POST',
      '/forgot-password',
      form({ email: u.email }, { origin: 'https://evil.example' }),
    );
    expect(evilForgot.status).toBe(403);
    expect((await api('GET', '/forgot-password')).text).toContain('action="/forgot-password"');
    await api('POST', '/forgot-password', form({ email: u.email }, { origin: `http://${ALPHA}` }));
    const token = await resetToken(u.email);
    const mail = w.smtp.to(u.email).at(-1)!;
    const page = await api('GET', pathOf(linkIn(mail, '/reset-password')));
    expect(page.status).toBe(200);
    expect(page.text).toContain(`Choose a new password for ${u.email}`);

    const post = (headers: Record<string, string>, password = STRONG) =>
      api('POST', '/reset-password', form({ token, password, confirm: password }, headers));
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const mismatch = await api(
      'POST',
      '/reset-password',
      form({ token, password: STRONG, confirm: 'other' }),
    );
    expect(mismatch.status).toBe(400);
    const ok = await post({ origin: `http://${ALPHA}`, 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('Your password was changed');
    await login(w.api, ALPHA, u.email, STRONG);
    expect((await post({})).status).toBe(404);
  });

  it('the login page links to the reset form', async () => {
    expect((await api('GET', '/login')).text).toContain('href="/forgot-password"');
  });
});

describe('password change', () => {
  it('needs the current password, checks strength, ends every other session but this one', async () => {
    const u = await user();
    const mine = await login(w.api, ALPHA, u.email, OLD);
    const other = await login(w.api, ALPHA, u.email, OLD);
    const change = (body: unknown) =>
      api('POST', '/v1/auth/password/change', { headers: bearer(mine.access_token), body });

    const wrong = await change({ current_password: 'Not-The-Password-1', new_password: STRONG });
    expectProblem(wrong, 400, 'validation_failed');
    expect(wrong.json.invalid_params[0].name).toBe('json.current_password');
    const weak = await change({ current_password: OLD, new_password: 'Rae-Setter-2024' });
    expectProblem(weak, 400, 'validation_failed');
    expect(weak.json.invalid_params[0].name).toBe('json.new_password');

    expect((await change({ current_password: OLD, new_password: STRONG })).status).toBe(204);
    expect((await api('GET', '/v1/me', { headers: bearer(mine.access_token) })).status).toBe(200);
    expect((await api('GET', '/v1/me', { headers: bearer(other.access_token) })).status).toBe(401);
    await login(w.api, ALPHA, u.email, STRONG);
    const audit = await w.staff.auditOf(u.id);
    expect(audit.map((x) => x.action)).toContain('auth.password_change');
  });

  it('needs a signed-in user', async () => {
    expectProblem(
      await api('POST', '/v1/auth/password/change', {
        body: { current_password: OLD, new_password: STRONG },
      }),
      401,
      'unauthenticated',
    );
  });
});

describe('mail survives Redis being down', () => {
  let lonely: ApiTarget;
  beforeAll(async () => {
    lonely = await startNodeApi({ ...w.world.vars, REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => {
    await lonely?.close();
  });

  it('the request succeeds, the mail waits in the outbox, and the sweep delivers it', async () => {
    const u = await user();
    const r = await call(lonely, 'POST', '/v1/auth/password/forgot', {
      host: ALPHA,
      headers: { 'x-forwarded-for': nextIp() },
      body: { email: u.email },
    });
    expect(r.status).toBe(202);
    const row = await w.db.query(`select status from outbox where to_address = $1`, [u.email]);
    expect(row.rows).toEqual([{ status: 'queued' }]);
    await new Promise((res) => setTimeout(res, 500));
    expect(w.smtp.to(u.email)).toEqual([]);

    await w.mail.queue.add('mail-sweep', {});
    await resetToken(u.email);
    const after = await w.db.query(`select status from outbox where to_address = $1`, [u.email]);
    expect(after.rows).toEqual([{ status: 'sent' }]);
  });
});

describe('token guessing is limited like sign-in', () => {
  let strict: ApiTarget;
  beforeAll(async () => {
    strict = await startNodeApi({ ...w.world.vars, LOGIN_RATE_LIMIT: '2' });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('answers 429 past LOGIN_RATE_LIMIT on the reset and accept routes and forms', async () => {
    const bogus = 'x'.repeat(43);
    for (const [path, body] of [
      ['/v1/auth/password/reset', { json: { token: bogus, password: STRONG } }],
      ['/v1/auth/invitations/accept', { json: { token: bogus, password: STRONG } }],
      ['/reset-password', form({ token: bogus, password: STRONG, confirm: STRONG })],
      ['/invitations/accept', form({ token: bogus, password: STRONG, confirm: STRONG })],
    ] as const) {
      const addr = nextIp();
      const send = () =>
        call(strict, 'POST', path, {
          host: ALPHA,
          ...('json' in body
            ? { body: body.json, headers: { 'x-forwarded-for': addr } }
            : { rawBody: body.rawBody, headers: { ...body.headers, 'x-forwarded-for': addr } }),
        });
      expect((await send()).status).not.toBe(429);
      expect((await send()).status).not.toBe(429);
      const limited = await send();
      expect(limited.status, path).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
  });
});
