import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse } from '../support/api.js';
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

/** Invitations: issuing (one, bulk), the mail, the accept page, re-send, revoke, scoping. */

const ALPHA = 'alpha.test';
const BETA = 'beta.test';
const COOKIE = '__Host-homeroom_session';

let w: AccountsWorld;
let adminToken: string;
let betaAdminToken: string;
let north: string;
let south: string;
let principalToken: string;
let teacherToken: string;

beforeAll(async () => {
  w = await createAccountsWorld('acct_invites');
  const a = w.world.alpha.id;
  north = await w.staff.school(a, 'North <Elementary>');
  south = await w.staff.school(a, 'South');
  adminToken = (await login(w.api, ALPHA, 'admin@alpha.test')).access_token;
  betaAdminToken = (await login(w.api, BETA, 'admin@beta.test')).access_token;
  principalToken = (await w.staff.person(a, [{ role: 'principal', orgUnitId: north }])).token;
  teacherToken = (await w.staff.person(a, [{ role: 'teacher', orgUnitId: north }])).token;
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const api = (
  method: string,
  path: string,
  o: {
    host?: string;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
    rawBody?: string;
  } = {},
) =>
  call(w.api, method, path, {
    host: o.host ?? ALPHA,
    headers: { ...(o.token ? bearer(o.token) : {}), ...o.headers },
    ...(o.body !== undefined ? { body: o.body } : {}),
    ...(o.rawBody !== undefined ? { rawBody: o.rawBody } : {}),
  });

const invite = (body: unknown, token = adminToken, host = ALPHA) =>
  api('POST', '/v1/invitations', { token, body, host });

let n = 0;
const staffInvite = (over: Record<string, unknown> = {}) => ({
  kind: 'staff',
  email: `new.teacher${++n}@alpha.test`,
  first_name: 'Nia',
  last_name: 'Newcomer',
  role: 'teacher',
  org_unit_id: north,
  ...over,
});

const acceptForm = (token: string, password = STRONG, headers: Record<string, string> = {}) =>
  api('POST', '/invitations/accept', form({ token, password, confirm: password }, headers));

async function mailFor(email: string) {
  return w.smtp.waitFor((m) => m.envelopeTo.includes(email));
}

const sessionCookie = (r: ApiResponse) =>
  (r.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${COOKIE}=`));

describe('invitations', () => {
  it('invite a member of staff: the mail arrives over SMTP, the link sets the password and signs in', async () => {
    const body = staffInvite({ first_name: '<b>Nia</b> & co' });
    const r = await invite(body);
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({
      email: body.email,
      kind: 'staff',
      status: 'pending',
      org_unit_id: north,
    });
    expect(r.text).not.toMatch(/token|invitations\/accept/);

    const mail = await mailFor(body.email);
    expect(mail.parsed.subject).toBe('You are invited to Alpha Academy on Homeroom');
    expect(mail.parsed.from?.value[0]).toEqual({
      name: 'Alpha Academy',
      address: 'no-reply@homeroom.test',
    });
    expect(mail.parsed.text).toContain('Hello <b>Nia</b> & co,');
    expect(mail.parsed.text).toContain('as Teacher at North <Elementary>');
    // The HTML body escapes every value.
    expect(mail.parsed.html).toContain('Hello &lt;b&gt;Nia&lt;/b&gt; &amp; co,');
    expect(mail.parsed.html).toContain('North &lt;Elementary&gt;');
    expect(mail.parsed.html).not.toContain('<b>Nia</b>');
    const link = linkIn(mail, '/invitations/accept?token=');
    expect(new URL(link).host).toBe(ALPHA);

    // Stored hashed: neither the invitation nor (once sent) the outbox holds the token.
    const token = tokenOf(link);
    const inv = await w.db.query(`select token_hash from invitations where id = $1`, [r.json.id]);
    expect(inv.rows[0].token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    const box = await w.db.query(
      `select status, payload::text as payload from outbox where to_address = $1`,
      [body.email],
    );
    expect(box.rows[0].status).toBe('sent');
    expect(box.rows[0].payload).not.toContain(token);
    const log = await w.db.query(
      `select d.event from mail_deliveries d join outbox o on o.id = d.outbox_id
       where o.to_address = $1 order by d.created_at`,
      [body.email],
    );
    expect(log.rows.map((x) => x.event)).toEqual(['queued', 'sent']);

    const page = await api('GET', pathOf(link));
    expect(page.status).toBe(200);
    expect(page.text).toContain(`Choose a password for ${body.email}`);
    expect(page.text).toContain('Welcome, &lt;b&gt;Nia&lt;/b&gt; &amp; co.');

    const weak = await acceptForm(token, 'password1234');
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('too easy to guess');

    const ok = await acceptForm(token);
    expect(ok.status, ok.text).toBe(303);
    expect(ok.headers.location).toBe('/home');
    expect(sessionCookie(ok)).toMatch(/HttpOnly/i);
    await login(w.api, ALPHA, body.email, STRONG);

    const audit = await w.staff.auditOf(r.json.id);
    expect(audit.map((x) => x.action)).toEqual(['invitation.create', 'invitation.accept']);
    const after = await api('GET', `/v1/invitations/${r.json.id}`, { token: adminToken });
    expect(after.json.status).toBe('accepted');
  });

  it('a link works once', async () => {
    const body = staffInvite();
    await invite(body);
    const token = tokenOf(linkIn(await mailFor(body.email), '/invitations/accept'));
    expect((await acceptForm(token)).status).toBe(303);
    const again = await acceptForm(token, 'Another-Strong-Pass-81');
    expect(again.status).toBe(404);
    expect(again.text).toContain('no longer valid');
    expect((await api('GET', `/invitations/accept?token=${token}`)).status).toBe(404);
    const viaApi = await api('POST', '/v1/auth/invitations/accept', {
      body: { token, password: 'Another-Strong-Pass-81' },
    });
    expectProblem(viaApi, 400, 'validation_failed');
    await expect(login(w.api, ALPHA, body.email, 'Another-Strong-Pass-81')).rejects.toThrow();
  });

  it('an expired link no longer works', async () => {
    const body = staffInvite();
    const r = await invite(body);
    const token = tokenOf(linkIn(await mailFor(body.email), '/invitations/accept'));
    await w.db.query(
      `update invitations set expires_at = now() - interval '1 second' where id = $1`,
      [r.json.id],
    );
    expect((await api('GET', `/invitations/accept?token=${token}`)).status).toBe(404);
    expect((await acceptForm(token)).status).toBe(404);
    expect(
      (await api('GET', `/v1/invitations/${r.json.id}`, { token: adminToken })).json.status,
    ).toBe('expired');
  });

  it('expires after 7 days by default', async () => {
    const r = await invite(staffInvite());
    const days = (Date.parse(r.json.expires_at) - Date.parse(r.json.created_at)) / 86_400_000;
    expect(days).toBeCloseTo(7, 2);
  });

  it('a link of one tenant is unknown on another tenant’s host', async () => {
    const body = staffInvite();
    await invite(body);
    const token = tokenOf(linkIn(await mailFor(body.email), '/invitations/accept'));
    expect((await api('GET', `/invitations/accept?token=${token}`, { host: BETA })).status).toBe(
      404,
    );
    const r = await call(w.api, 'POST', '/invitations/accept', {
      host: BETA,
      ...form({ token, password: STRONG, confirm: STRONG }),
    });
    expect(r.status).toBe(404);
    // Still usable where it belongs.
    expect((await acceptForm(token)).status).toBe(303);
  });

  it('refuses a cross-site form post (Origin and Sec-Fetch-Site), and the link still works after', async () => {
    const body = staffInvite();
    await invite(body);
    const token = tokenOf(linkIn(await mailFor(body.email), '/invitations/accept'));
    const evil = await acceptForm(token, STRONG, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(sessionCookie(evil)).toBeUndefined();
    const fetchSite = await acceptForm(token, STRONG, { 'sec-fetch-site': 'cross-site' });
    expect(fetchSite.status).toBe(403);
    const nullOrigin = await acceptForm(token, STRONG, { origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    const same = await acceptForm(token, STRONG, {
      origin: `http://${ALPHA}`,
      'sec-fetch-site': 'same-origin',
    });
    expect(same.status).toBe(303);
  });

  it('re-send replaces the link; revoke ends it', async () => {
    const body = staffInvite();
    const first = await invite(body);
    const oldToken = tokenOf(linkIn(await mailFor(body.email), '/invitations/accept'));
    const resent = await api('POST', `/v1/invitations/${first.json.id}/resend`, {
      token: adminToken,
    });
    expect(resent.status, resent.text).toBe(201);
    expect(resent.json.sent_count).toBe(2);
    await w.smtp.waitFor(
      (m) => m.envelopeTo.includes(body.email) && !m.parsed.text!.includes(oldToken),
    );
    const mails = w.smtp.to(body.email);
    const newToken = tokenOf(linkIn(mails.at(-1)!, '/invitations/accept'));
    expect(newToken).not.toBe(oldToken);
    expect((await api('GET', `/invitations/accept?token=${oldToken}`)).status).toBe(404);
    expect(
      (await api('GET', `/v1/invitations/${first.json.id}`, { token: adminToken })).json.status,
    ).toBe('revoked');

    const revoked = await api('POST', `/v1/invitations/${resent.json.id}/revoke`, {
      token: adminToken,
    });
    expect(revoked.status).toBe(200);
    expect(revoked.json.status).toBe('revoked');
    expect((await acceptForm(newToken)).status).toBe(404);
    expectProblem(
      await api('POST', `/v1/invitations/${resent.json.id}/revoke`, { token: adminToken }),
      409,
      'conflict',
    );
    expectProblem(
      await api('POST', `/v1/invitations/${resent.json.id}/resend`, { token: adminToken }),
      409,
      'conflict',
    );
    const audit = await w.staff.auditOf(resent.json.id);
    expect(audit.map((x) => x.action)).toEqual(['invitation.resend', 'invitation.revoke']);
  });

  it('refuses to invite someone who already has an account (409)', async () => {
    expectProblem(await invite(staffInvite({ email: 'admin@alpha.test' })), 409, 'conflict');
  });

  it('accepts over the API with a token pair', async () => {
    const body = staffInvite();
    await invite(body);
    const token = tokenOf(linkIn(await mailFor(body.email), '/invitations/accept'));
    const r = await api('POST', '/v1/auth/invitations/accept', {
      body: { token, password: STRONG },
    });
    expect(r.status, r.text).toBe(200);
    const me = await api('GET', '/v1/me', { token: r.json.access_token });
    expect(me.json.user.email).toBe(body.email);
    expect(me.json.roles.map((x: { key: string }) => x.key)).toEqual(['teacher']);
  });
});

describe('invitations and the second factor', () => {
  it('an invited user whose role requires a second factor sets it up before any session', async () => {
    const policy = (roles: string[]) =>
      api('PUT', '/v1/auth/policy', { token: adminToken, body: { mfa_required_roles: roles } });
    expect((await policy(['teacher'])).status).toBe(200);
    try {
      const viaApi = staffInvite();
      await invite(viaApi);
      const apiToken = tokenOf(linkIn(await mailFor(viaApi.email), '/invitations/accept'));
      const r = await api('POST', '/v1/auth/invitations/accept', {
        body: { token: apiToken, password: STRONG },
      });
      expect(r.status, r.text).toBe(200);
      expect(r.json.mfa_required).toBe('enrol');
      expect(r.json.access_token).toBeUndefined();
      expect(r.json.challenge_token).toEqual(expect.any(String));

      const viaPage = staffInvite();
      await invite(viaPage);
      const pageToken = tokenOf(linkIn(await mailFor(viaPage.email), '/invitations/accept'));
      const page = await acceptForm(pageToken);
      expect(page.status).toBe(303);
      expect(page.headers.location).toMatch(/^\/login\/mfa\/enrol\?/);
      expect(sessionCookie(page)).toBeUndefined();
    } finally {
      expect((await policy([])).status).toBe(200);
    }
  });
});

describe('invitations: who may invite whom', () => {
  it('a principal invites staff to their own school only, and never above their own permissions', async () => {
    expect((await invite(staffInvite(), principalToken)).status).toBe(201);
    expectProblem(
      await invite(staffInvite({ org_unit_id: south }), principalToken),
      403,
      'forbidden',
    );
    expectProblem(
      await invite(staffInvite({ org_unit_id: null }), principalToken),
      403,
      'forbidden',
    );
    expectProblem(
      await invite(staffInvite({ role: 'network_admin', org_unit_id: north }), principalToken),
      403,
      'forbidden',
    );
    expectProblem(await invite(staffInvite({ role: 'platform_admin' })), 403, 'forbidden');
  });

  it('a teacher may not invite at all', async () => {
    expectProblem(await invite(staffInvite(), teacherToken), 403, 'forbidden');
    expectProblem(
      await api('POST', '/v1/invitations/guardians', {
        token: teacherToken,
        body: { school_id: north },
      }),
      403,
      'forbidden',
    );
  });

  it('a principal sees, re-sends and revokes only their own school’s invitations', async () => {
    const southInvite = await invite(staffInvite({ org_unit_id: south }));
    const tenantWide = await invite(staffInvite({ role: 'office_admin', org_unit_id: null }));
    const list = await api('GET', '/v1/invitations?limit=500', { token: principalToken });
    expect(list.status).toBe(200);
    expect(list.json.data.length).toBeGreaterThan(0);
    expect(list.json.data.every((i: { org_unit_id: string }) => i.org_unit_id === north)).toBe(
      true,
    );
    for (const id of [southInvite.json.id, tenantWide.json.id]) {
      expectProblem(
        await api('GET', `/v1/invitations/${id}`, { token: principalToken }),
        404,
        'not_found',
      );
      expectProblem(
        await api('POST', `/v1/invitations/${id}/revoke`, { token: principalToken }),
        404,
        'not_found',
      );
      expectProblem(
        await api('POST', `/v1/invitations/${id}/resend`, { token: principalToken }),
        404,
        'not_found',
      );
    }
  });

  it('another tenant’s admin cannot see or touch an invitation (404)', async () => {
    const r = await invite(staffInvite());
    for (const [m, p] of [
      ['GET', `/v1/invitations/${r.json.id}`],
      ['POST', `/v1/invitations/${r.json.id}/revoke`],
      ['POST', `/v1/invitations/${r.json.id}/resend`],
    ] as const) {
      expectProblem(await api(m, p, { token: betaAdminToken, host: BETA }), 404, 'not_found');
    }
    // Alpha's token on beta's host is refused outright.
    expectProblem(
      await api('GET', '/v1/invitations', { token: adminToken, host: BETA }),
      401,
      'unauthenticated',
    );
    const betaList = await api('GET', '/v1/invitations', { token: betaAdminToken, host: BETA });
    expect(betaList.json.data).toEqual([]);
    // A guardian of alpha is unknown to beta.
    const a = w.world.alpha.id;
    const kid = await w.staff.student(a, north);
    const g = await w.staff.guardian(a, [kid]);
    expectProblem(
      await invite({ kind: 'guardian', guardian_id: g }, betaAdminToken, BETA),
      404,
      'not_found',
    );
  });
});

describe('guardian invitations', () => {
  it('invites one guardian as a parent of their children', async () => {
    const a = w.world.alpha.id;
    const kid = await w.staff.student(a, north, { firstName: 'Kit' });
    const g = await w.staff.guardian(a, [kid], {
      email: 'one.guardian@family.test',
      firstName: 'Gale',
    });
    const r = await invite({ kind: 'guardian', guardian_id: g }, principalToken);
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({ kind: 'guardian', guardian_id: g, org_unit_id: north });
    const token = tokenOf(linkIn(await mailFor('one.guardian@family.test'), '/invitations/accept'));
    const ok = await api('POST', '/v1/auth/invitations/accept', {
      body: { token, password: STRONG },
    });
    expect(ok.status).toBe(200);
    const kids = await api('GET', '/v1/students', { token: ok.json.access_token });
    expect(kids.json.data.map((s: { id: string }) => s.id)).toEqual([kid]);
  });

  it('a principal cannot invite a guardian of another school', async () => {
    const a = w.world.alpha.id;
    const kid = await w.staff.student(a, south);
    const g = await w.staff.guardian(a, [kid]);
    expectProblem(
      await invite({ kind: 'guardian', guardian_id: g }, principalToken),
      404,
      'not_found',
    );
  });

  it('bulk: every guardian of a school with an address and no account, once', async () => {
    const a = w.world.alpha.id;
    const school = await w.staff.school(a, 'Bulk School');
    const kids = [await w.staff.student(a, school), await w.staff.student(a, school)];
    const emails = ['bulk.one@family.test', 'bulk.two@family.test'];
    await w.staff.guardian(a, [kids[0]!], { email: emails[0] });
    await w.staff.guardian(a, [kids[1]!], { email: emails[1] });
    // Same address on two guardian records: one account, one mail.
    await w.staff.guardian(a, [kids[1]!], { email: 'Bulk.One@family.test' });
    // No address; and one who already has an account.
    const none = await w.staff.guardian(a, [kids[0]!]);
    await w.db.query(`update guardians set email = null where id = $1`, [none]);
    await w.staff.guardian(a, [kids[0]!], { email: 'admin@alpha.test' });
    // A guardian at another school is not included.
    await w.staff.guardian(a, [await w.staff.student(a, south)], {
      email: 'elsewhere@family.test',
    });

    const r = await api('POST', '/v1/invitations/guardians', {
      token: adminToken,
      body: { school_id: school },
    });
    expect(r.status, r.text).toBe(202);
    expect(r.json.invited).toBe(2);
    for (const e of emails) await mailFor(e);
    expect(w.smtp.to('elsewhere@family.test')).toEqual([]);
    const again = await api('POST', '/v1/invitations/guardians', {
      token: adminToken,
      body: { school_id: school },
    });
    expect(again.json.invited).toBe(0);
    expectProblem(
      await api('POST', '/v1/invitations/guardians', {
        token: principalToken,
        body: { school_id: school },
      }),
      404,
      'not_found',
    );
    const users = await w.db.query(
      `select u.status, count(g.id)::int as guardians from users u join guardians g on g.user_id = u.id
       where lower(u.email) = 'bulk.one@family.test' group by u.status`,
    );
    expect(users.rows).toEqual([{ status: 'invited', guardians: 2 }]);
    const audit = await w.staff.auditOf(school);
    expect(audit.map((x) => x.action)).toEqual([
      'invitation.bulk_create',
      'invitation.bulk_create',
    ]);
  });
});

describe('accept page', () => {
  it('is served with the login page’s security headers', async () => {
    const body = staffInvite();
    await invite(body);
    const link = linkIn(await mailFor(body.email), '/invitations/accept');
    const page = await api('GET', pathOf(link));
    expect(String(page.headers['content-security-policy'])).toContain("form-action 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['referrer-policy']).toBe('same-origin');
    expect(page.text).toContain('method="post" action="/invitations/accept"');
  });
});
