import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { createTokenKeys } from '../../api/auth/jwt.js';
import { parseApiConfig } from '../../api/env.js';
import { call, type ApiResponse } from '../support/api.js';
import { ADMIN_PASSWORD } from '../support/api-world.js';
import { Harness, type Runtime } from '../support/harness.js';

/**
 * Two-factor sign-in (docs/tenancy-and-security.md#two-factor-sign-in): the tenant policy,
 * enrolment with a QR code, TOTP codes that cannot be replayed, single-use recovery codes,
 * lockout, challenge tokens bound to their tenant and lifetime, and the browser pages.
 */

const h = await Harness.init('auth_mfa', { vars: { LOGIN_RATE_LIMIT: '10000' } });
const RUNTIMES: Runtime[] = ['node', 'workerd'];
const ALPHA = 'alpha.test';

const { north, alphaAdmin, betaAdmin, teacherToken } = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await h.staff.school(a, 'North');
  const teacher = await h.staff.user(a, [{ role: 'teacher', orgUnitId: north }]);
  return {
    north,
    alphaAdmin: await h.admin('alpha'),
    betaAdmin: await h.admin('beta'),
    teacherToken: await h.staff.token(a, teacher),
  };
});

/** A user of alpha with the role who signs in with ADMIN_PASSWORD; returns id and email. */
async function person(role: string, label: string): Promise<{ id: string; email: string }> {
  const a = h.tenants.alpha.id;
  const id = await h.staff.user(a, [{ role, orgUnitId: role === 'parent' ? null : north }]);
  const email = `${label}@alpha.test`;
  const db = await h.staff.db();
  await db.query(
    `update users set email = $2,
            password_hash = (select password_hash from users where id = $3) where id = $1`,
    [id, email, h.tenants.alpha.adminUserId],
  );
  return { id, email };
}

async function userRow(id: string) {
  const db = await h.staff.db();
  const { rows } = await db.query<{ failed_login_count: number; locked: boolean }>(
    `select failed_login_count, coalesce(locked_until > now(), false) as locked
       from users where id = $1`,
    [id],
  );
  return rows[0]!;
}

async function auditActions(userId: string): Promise<string[]> {
  const db = await h.staff.db();
  const { rows } = await db.query<{ action: string }>(
    `select action from audit_log where entity_id = $1 order by occurred_at, id`,
    [userId],
  );
  return rows.map((r) => r.action);
}

/** The code the authenticator shows `offset` steps from now. */
const codeAt = (secret: string, offset = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offset * 30_000,
  });

await h.setup(async () => {
  // Principals must use a second factor on alpha (the test world starts with no such role).
  const r = await h
    .api('node')
    .put('/v1/auth/policy', alphaAdmin, { mfa_required_roles: ['principal'] });
  if (r.status !== 200) throw new Error(`policy: ${r.status} ${r.text}`);
});

describe('the tenant policy', () => {
  it('is read and set by tenant admins only, audited, and per tenant', async () => {
    const api = h.api('node');
    const read = await api.get('/v1/auth/policy', alphaAdmin);
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ mfa_required_roles: ['principal'] });
    expect((await api.get('/v1/auth/policy', teacherToken)).status).toBe(403);
    expect(
      (await api.put('/v1/auth/policy', teacherToken, { mfa_required_roles: [] })).status,
    ).toBe(403);
    // Beta's admin token on alpha's host is refused; beta's own policy is its own.
    expect((await api.get('/v1/auth/policy', betaAdmin)).status).toBe(401);
    const beta = await h.api('node', 'beta').get('/v1/auth/policy', betaAdmin);
    expect(beta.json).toEqual({ mfa_required_roles: [] });

    const unknown = await api.put('/v1/auth/policy', alphaAdmin, {
      mfa_required_roles: ['principal', 'wizard'],
    });
    expect(unknown.status).toBe(422);
    expect(unknown.headers['content-type']).toMatch(/application\/problem\+json/);

    const same = await api.put('/v1/auth/policy', alphaAdmin, {
      mfa_required_roles: ['principal'],
    });
    expect(same.status).toBe(200);
    const db = await h.staff.db();
    const { rows } = await db.query(
      `select before, after from audit_log where action = 'auth_policy.update' and tenant_id = $1
        order by occurred_at`,
      [h.tenants.alpha.id],
    );
    expect(rows[0]).toEqual({
      before: { mfa_required_roles: [] },
      after: { mfa_required_roles: ['principal'] },
    });
  });

  it('defaults to platform and network admins and principals for a tenant without one', async () => {
    const db = await h.staff.db();
    await db.query(`update auth_policies set deleted_at = now() where tenant_id = $1`, [
      h.tenants.beta.id,
    ]);
    try {
      const r = await h.api('node', 'beta').get('/v1/auth/policy', betaAdmin);
      expect(r.json.mfa_required_roles).toEqual(['platform_admin', 'network_admin', 'principal']);
      const login = await h
        .api('node', 'beta')
        .post('/v1/auth/login', null, { email: 'admin@beta.test', password: ADMIN_PASSWORD });
      expect(login.status).toBe(200);
      expect(login.json.mfa_required).toBe('enrol');
      expect(login.json.access_token).toBeUndefined();
    } finally {
      await db.query(
        `update auth_policies set deleted_at = null where tenant_id = $1 and deleted_at is not null`,
        [h.tenants.beta.id],
      );
    }
  });
});

for (const runtime of RUNTIMES) {
  describe(`two-factor sign-in over the API on ${runtime}`, () => {
    const api = () => h.api(runtime);
    const login = (email: string, password = ADMIN_PASSWORD) =>
      api().post('/v1/auth/login', null, { email, password });
    const verify = (body: Record<string, string>) => api().post('/v1/auth/mfa/verify', null, body);

    /** Enrols a required user through the login challenge; returns secret and recovery codes. */
    async function enrolThroughLogin(email: string) {
      const first = await login(email);
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ mfa_required: 'enrol', expires_in: 300 });
      expect(first.json.access_token).toBeUndefined();
      const challenge = first.json.challenge_token as string;
      const started = await api().post('/v1/auth/mfa/enrolment', null, {
        challenge_token: challenge,
      });
      expect(started.status, started.text).toBe(200);
      expect(started.json.otpauth_uri).toMatch(/^otpauth:\/\/totp\/.*secret=/);
      expect(started.json.qr_svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
      const secret = started.json.secret as string;
      const confirmed = await api().post('/v1/auth/mfa/enrolment/confirm', null, {
        challenge_token: challenge,
        code: codeAt(secret),
      });
      expect(confirmed.status, confirmed.text).toBe(200);
      expect(confirmed.json.recovery_codes).toHaveLength(10);
      expect(confirmed.json.tokens.access_token).toBeTruthy();
      return {
        secret,
        recovery: confirmed.json.recovery_codes as string[],
        token: confirmed.json.tokens.access_token as string,
      };
    }

    it('sends a required user to enrolment after the password, then asks for codes', async () => {
      const p = await person('principal', `enrol-${runtime}`);
      const { secret, token } = await enrolThroughLogin(p.email);
      expect((await api().get('/v1/me', token)).status).toBe(200);

      const again = await login(p.email);
      expect(again.json.mfa_required).toBe('verify');
      const done = await verify({
        challenge_token: again.json.challenge_token,
        code: codeAt(secret, 1),
      });
      expect(done.status, done.text).toBe(200);
      expect((await api().get('/v1/me', done.json.access_token)).status).toBe(200);
      expect(await auditActions(p.id)).toEqual(
        expect.arrayContaining([
          'auth.mfa_challenge',
          'auth.mfa_enrolment_started',
          'auth.mfa_enrolled',
          'auth.login',
        ]),
      );
      const db = await h.staff.db();
      const stored = await db.query<{ secret_encrypted: string }>(
        `select secret_encrypted from user_totp where user_id = $1`,
        [p.id],
      );
      // Encrypted at rest: the base32 secret is nowhere in the row.
      expect(stored.rows[0]!.secret_encrypted).toMatch(/^v1\./);
      expect(stored.rows[0]!.secret_encrypted).not.toContain(secret);
    });

    it('refuses a code replayed within its step, and counts it as a failure', async () => {
      const p = await person('principal', `replay-${runtime}`);
      const { secret } = await enrolThroughLogin(p.email);
      const code = codeAt(secret, 1);
      const first = await login(p.email);
      expect((await verify({ challenge_token: first.json.challenge_token, code })).status).toBe(
        200,
      );
      const second = await login(p.email);
      const replay = await verify({ challenge_token: second.json.challenge_token, code });
      expect(replay.status).toBe(401);
      expect(replay.json.type).toMatch(/invalid_credentials$/);
      expect((await userRow(p.id)).failed_login_count).toBe(1);
    });

    it('accepts each recovery code once', async () => {
      const p = await person('principal', `recovery-${runtime}`);
      const { recovery } = await enrolThroughLogin(p.email);
      const c1 = await login(p.email);
      const ok = await verify({
        challenge_token: c1.json.challenge_token,
        recovery_code: recovery[0]!.toLowerCase(),
      });
      expect(ok.status, ok.text).toBe(200);
      const c2 = await login(p.email);
      const again = await verify({
        challenge_token: c2.json.challenge_token,
        recovery_code: recovery[0]!,
      });
      expect(again.status).toBe(401);
      const other = await verify({
        challenge_token: c2.json.challenge_token,
        recovery_code: recovery[1]!,
      });
      expect(other.status).toBe(200);
      const db = await h.staff.db();
      const { rows } = await db.query<{ code_hash: string }>(
        `select code_hash from mfa_recovery_codes where user_id = $1`,
        [p.id],
      );
      expect(rows).toHaveLength(10);
      expect(rows.map((r) => r.code_hash)).not.toContain(recovery[2]);
    });

    it('counts wrong codes toward the lockout, and a right password does not reset the count', async () => {
      // A teacher (not required) who turned two-factor sign-in on with a bearer token.
      const p = await person('teacher', `lockout-${runtime}`);
      const plain = await login(p.email);
      expect(plain.json.access_token).toBeTruthy();
      const bearer = plain.json.access_token as string;
      const started = await api().post('/v1/auth/mfa/enrolment', bearer, {});
      expect(started.status, started.text).toBe(200);
      const confirmed = await api().post('/v1/auth/mfa/enrolment/confirm', bearer, {
        code: codeAt(started.json.secret),
      });
      expect(confirmed.status).toBe(200);
      expect(confirmed.json.tokens).toBeNull();
      // Enrolling again while one is active is a conflict.
      expect((await api().post('/v1/auth/mfa/enrolment', bearer, {})).status).toBe(409);

      const wrong = (n: string) => (n === '000000' ? '111111' : '000000');
      const right = codeAt(started.json.secret, 1);
      for (let i = 1; i <= 2; i++) {
        const c = await login(p.email);
        expect(c.json.mfa_required).toBe('verify');
        const r = await verify({ challenge_token: c.json.challenge_token, code: wrong(right) });
        expect(r.status).toBe(401);
        expect((await userRow(p.id)).failed_login_count).toBe(i);
      }
      const c = await login(p.email);
      expect((await userRow(p.id)).failed_login_count).toBe(2);
      for (let i = 3; i <= 5; i++) {
        await verify({ challenge_token: c.json.challenge_token, code: wrong(right) });
      }
      expect(await userRow(p.id)).toEqual({ failed_login_count: 5, locked: true });
      // Locked: the right code and the right password are both refused now.
      expect((await verify({ challenge_token: c.json.challenge_token, code: right })).status).toBe(
        401,
      );
      expect((await login(p.email)).status).toBe(401);
      expect(await auditActions(p.id)).toContain('auth.lockout');
    });

    it('refuses a challenge token on another tenant host, of the wrong kind, or expired', async () => {
      const p = await person('principal', `challenge-${runtime}`);
      const { secret } = await enrolThroughLogin(p.email);
      const c = await login(p.email);
      const token = c.json.challenge_token as string;
      const onBeta = await h
        .api(runtime, 'beta')
        .post('/v1/auth/mfa/verify', null, { challenge_token: token, code: codeAt(secret, 1) });
      expect(onBeta.status).toBe(401);
      // A challenge is no access token, and an access token is no challenge.
      expect((await api().get('/v1/me', token)).status).toBe(401);
      expect((await verify({ challenge_token: alphaAdmin, code: codeAt(secret, 1) })).status).toBe(
        401,
      );
      // A verification challenge cannot start an enrolment.
      expect(
        (await api().post('/v1/auth/mfa/enrolment', null, { challenge_token: token })).status,
      ).toBe(401);

      // Signed with the deployment's key but expired a minute ago.
      const config = parseApiConfig({ NODE_ENV: 'test' });
      const keys = await createTokenKeys(config.signingKeys, config.JWT_ISSUER);
      const expired = await keys.sign(
        { sub: p.id, tenant: h.tenants.alpha.id, roles: [], sid: crypto.randomUUID() },
        { audience: 'homeroom-api:mfa-verify', ttlSeconds: -60 },
      );
      const late = await verify({ challenge_token: expired, code: codeAt(secret, 1) });
      expect(late.status).toBe(401);
      expect(late.json.detail).toMatch(/expired/);
      // Same key, in time: accepted (the refusals above are about tenant, kind and time).
      const fresh = await keys.sign(
        { sub: p.id, tenant: h.tenants.alpha.id, roles: [], sid: crypto.randomUUID() },
        { audience: 'homeroom-api:mfa-verify', ttlSeconds: 60 },
      );
      expect((await verify({ challenge_token: fresh, code: codeAt(secret, 1) })).status).toBe(200);
    });

    it('lets a tenant admin reset a user’s authenticator, audited, on their own tenant only', async () => {
      const p = await person('principal', `reset-${runtime}`);
      await enrolThroughLogin(p.email);
      expect((await api().delete(`/v1/users/${p.id}/mfa`, teacherToken)).status).toBe(403);
      expect((await h.api(runtime, 'beta').delete(`/v1/users/${p.id}/mfa`, betaAdmin)).status).toBe(
        404,
      );
      expect((await api().delete(`/v1/users/${p.id}/mfa`, alphaAdmin)).status).toBe(204);
      expect(await auditActions(p.id)).toContain('user.mfa_reset');
      // Principals must have one: the next sign-in goes to enrolment again.
      expect((await login(p.email)).json.mfa_required).toBe('enrol');
    });
  });

  describe(`two-factor sign-in in the browser on ${runtime}`, () => {
    const target = () => h.target(runtime);
    const form = (fields: Record<string, string>, cookie?: string) => ({
      host: ALPHA,
      rawBody: new URLSearchParams(fields).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie ? { cookie } : {}),
      },
    });
    const cookieOf = (r: ApiResponse, name: string) =>
      (r.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`))
        ?.split(';')[0];

    it('enrols with a server-rendered QR code, then asks for a code at the next sign-in', async () => {
      const p = await person('principal', `browser-${runtime}`);
      const signIn = await call(
        target(),
        'POST',
        '/login',
        form({ email: p.email, password: ADMIN_PASSWORD, next: '/dashboards' }),
      );
      expect(signIn.status).toBe(303);
      expect(signIn.headers.location).toBe('/login/mfa/enrol?next=%2Fdashboards');
      expect(cookieOf(signIn, '__Host-homeroom_session')).toBeUndefined();
      const mfa = cookieOf(signIn, '__Host-homeroom_mfa')!;
      expect(mfa).toBeTruthy();

      const page = await call(target(), 'GET', '/login/mfa/enrol?next=%2Fdashboards', {
        host: ALPHA,
        headers: { cookie: mfa },
      });
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/<svg[^>]*>[\s\S]*<path/);
      expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
      const secret = /class="secret">([A-Z2-7]+)</.exec(page.text)![1]!;
      // Reloading shows the same secret: what the phone scanned stays valid.
      const reload = await call(target(), 'GET', '/login/mfa/enrol', {
        host: ALPHA,
        headers: { cookie: mfa },
      });
      expect(reload.text).toContain(secret);

      const evil = await call(target(), 'POST', '/login/mfa/enrol', {
        ...form({ code: codeAt(secret, 1), next: '/dashboards' }, mfa),
        headers: {
          ...form({}, mfa).headers,
          origin: 'https://evil.example',
          'sec-fetch-site': 'cross-site',
        },
      });
      expect(evil.status).toBe(403);
      const confirmed = await call(
        target(),
        'POST',
        '/login/mfa/enrol',
        form({ code: codeAt(secret), next: '/dashboards' }, mfa),
      );
      expect(confirmed.status).toBe(200);
      expect(confirmed.text).toMatch(/([A-Z2-7]{4}-){3}[A-Z2-7]{4}/);
      expect(cookieOf(confirmed, '__Host-homeroom_session')).toBeTruthy();
      // The enrolment page again (another tab, the old challenge): sent to sign in, not a 500.
      const stale = await call(target(), 'GET', '/login/mfa/enrol', {
        host: ALPHA,
        headers: { cookie: mfa },
      });
      expect(stale.status).toBe(401);

      // Next sign-in: the code page, and the session only after the code.
      const second = await call(
        target(),
        'POST',
        '/login',
        form({ email: p.email, password: ADMIN_PASSWORD, next: '/home' }),
      );
      expect(second.headers.location).toBe('/login/mfa?next=%2Fhome');
      const mfa2 = cookieOf(second, '__Host-homeroom_mfa')!;
      const codePage = await call(target(), 'GET', '/login/mfa?next=%2Fhome', {
        host: ALPHA,
        headers: { cookie: mfa2 },
      });
      expect(codePage.status).toBe(200);
      expect(codePage.text).toContain('autocomplete="one-time-code"');
      const wrong = await call(
        target(),
        'POST',
        '/login/mfa',
        form({ code: '000000' === codeAt(secret, 1) ? '111111' : '000000', next: '/home' }, mfa2),
      );
      expect(wrong.status).toBe(401);
      expect(cookieOf(wrong, '__Host-homeroom_session')).toBeUndefined();
      expect((await userRow(p.id)).failed_login_count).toBe(1);
      const ok = await call(
        target(),
        'POST',
        '/login/mfa',
        form({ code: codeAt(secret, 1), next: '/home' }, mfa2),
      );
      expect(ok.status).toBe(303);
      expect(ok.headers.location).toBe('/home');
      expect(cookieOf(ok, '__Host-homeroom_session')).toBeTruthy();
      expect((await userRow(p.id)).failed_login_count).toBe(0);
    });

    it('sends a browser without a valid challenge back to sign in', async () => {
      const r = await call(target(), 'GET', '/login/mfa', { host: ALPHA });
      expect(r.status).toBe(401);
      const forged = await call(
        target(),
        'POST',
        '/login/mfa',
        form({ code: '123456' }, '__Host-homeroom_mfa=x.y.z'),
      );
      expect(forged.status).toBe(401);
      expect(cookieOf(forged, '__Host-homeroom_session')).toBeUndefined();
    });
  });
}
