import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { afterAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse } from '../support/api.js';
import { Harness, type Runtime } from '../support/harness.js';

/**
 * Single sign-on (docs/tenancy-and-security.md#single-sign-on) against a real OpenID
 * provider (`oidc-provider`) running in this process: the whole authorization code flow over
 * HTTP, driven through the provider's own login and consent forms, and every way a callback
 * must be refused.
 */

const h = await Harness.init('auth_sso', { vars: { LOGIN_RATE_LIMIT: '10000' } });
const RUNTIMES: Runtime[] = ['node', 'workerd'];
const ALPHA = 'alpha.test';
const CLIENT_ID = 'homeroom-alpha';
const CLIENT_SECRET = 'a-long-client-secret-for-the-test-provider';

/** The provider's accounts: the login typed at its form is the account id. */
const ACCOUNTS: Record<string, { email: string; verified: boolean }> = {
  ada: { email: 'ada@school.example', verified: true },
  unverified: { email: 'ada@school.example', verified: false },
  outsider: { email: 'eve@other.example', verified: true },
  stranger: { email: 'nobody@school.example', verified: true },
  newcomer: { email: 'newcomer@new.school.example', verified: true },
};

// The provider listens first, so that its issuer can name the port.
const server = http.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const ISSUER = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [
        'https://alpha.test/login/sso/callback',
        'https://beta.test/login/sso/callback',
      ],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  findAccount: (_ctx, sub) => {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      claims: () => ({
        sub,
        email: account.email,
        email_verified: account.verified,
        given_name: sub,
        family_name: 'Tester',
      }),
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
  },
  // Email in the ID token itself, as Google and Entra ID put it.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['oidc-test-cookie-key'] },
});
server.on('request', provider.callback());
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const { alphaAdmin, betaAdmin, teacherToken, adaId } = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await h.staff.school(a, 'North');
  const ada = await h.staff.user(a, [{ role: 'teacher', orgUnitId: north }]);
  const db = await h.staff.db();
  await db.query(`update users set email = 'Ada@School.example' where id = $1`, [ada]);
  return {
    alphaAdmin: await h.admin('alpha'),
    betaAdmin: await h.admin('beta'),
    teacherToken: await h.staff.token(a, ada),
    adaId: ada,
  };
});

let providerId = '';

/** The provider's side, as a browser would walk it: forms, redirects and its cookies. */
async function atProvider(authUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = authUrl;
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(url, {
      method: body ? 'POST' : 'GET',
      body,
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
    });
    for (const cookie of res.headers.getSetCookie()) {
      const pair = cookie.split(';')[0]!;
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url);
      if (next.protocol === 'https:') return next; // back to Homeroom's callback
      url = next.toString();
      body = undefined;
      continue;
    }
    const page = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    if (!action) throw new Error(`no form at ${url}: ${res.status} ${page.slice(0, 400)}`);
    const prompt = /name="prompt" value="([^"]+)"/.exec(page)?.[1] ?? 'consent';
    url = new URL(action.replace(/&amp;/g, '&'), url).toString();
    body = new URLSearchParams(
      prompt === 'login' ? { prompt, login, password: 'anything' } : { prompt },
    ).toString();
  }
  throw new Error('the provider did not redirect back');
}

const cookieOf = (r: ApiResponse, name: string) =>
  (r.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`))
    ?.split(';')[0];

async function auditReasons(): Promise<string[]> {
  const db = await h.staff.db();
  const { rows } = await db.query<{ reason: string }>(
    `select after->>'reason' as reason from audit_log where action = 'auth.sso_failed'
      order by occurred_at, id`,
  );
  return rows.map((r) => r.reason);
}

describe('single sign-on providers (admin API)', () => {
  it('are configured by tenant admins only, with the secret encrypted and never shown', async () => {
    const api = h.api('node');
    const body = {
      kind: 'oidc',
      name: 'School IdP',
      issuer: ISSUER,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      allowed_domains: ['School.example', 'new.school.example'],
      auto_create_domains: ['new.school.example'],
    };
    expect((await api.post('/v1/sso-providers', teacherToken, body)).status).toBe(403);
    expect((await api.post('/v1/sso-providers', betaAdmin, body)).status).toBe(401);
    const bad = await api.post('/v1/sso-providers', alphaAdmin, {
      ...body,
      auto_create_domains: ['elsewhere.example'],
    });
    expect(bad.status).toBe(422);
    const insecure = await api.post('/v1/sso-providers', alphaAdmin, {
      ...body,
      issuer: 'http://idp.example.com',
    });
    expect(insecure.status).toBe(400);

    const created = await api.post('/v1/sso-providers', alphaAdmin, body);
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({
      kind: 'oidc',
      issuer: ISSUER,
      has_client_secret: true,
      allowed_domains: ['school.example', 'new.school.example'],
    });
    expect(created.text).not.toContain(CLIENT_SECRET);
    providerId = created.json.id;

    const db = await h.staff.db();
    const stored = await db.query(
      `select client_secret_encrypted from sso_providers where id = $1`,
      [providerId],
    );
    expect(stored.rows[0].client_secret_encrypted).toMatch(/^v1\./);
    const audited = await db.query(
      `select action, after from audit_log where entity_id = $1 order by occurred_at`,
      [providerId],
    );
    expect(audited.rows.map((r) => r.action)).toEqual(['sso_provider.create']);
    expect(JSON.stringify(audited.rows)).not.toContain(CLIENT_SECRET);

    // Beta neither sees nor changes alpha's provider, even by id on its own host.
    const beta = h.api('node', 'beta');
    expect((await beta.get('/v1/sso-providers', betaAdmin)).json).toEqual({ data: [] });
    expect(
      (await beta.patch(`/v1/sso-providers/${providerId}`, betaAdmin, { name: 'x' })).status,
    ).toBe(404);
    expect((await beta.delete(`/v1/sso-providers/${providerId}`, betaAdmin)).status).toBe(404);

    const renamed = await api.patch(`/v1/sso-providers/${providerId}`, alphaAdmin, {
      name: 'Test IdP',
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json.name).toBe('Test IdP');
    expect((await api.get('/v1/sso-providers', alphaAdmin)).json.data).toHaveLength(1);
  });

  it('shows "Sign in with <provider>" on the configured tenant’s /login only', async () => {
    const alpha = await call(h.target('node'), 'GET', '/login', { host: ALPHA });
    expect(alpha.text).toContain(`href="/login/sso/${providerId}?next=%2Fdashboards"`);
    expect(alpha.text).toContain('Sign in with Test IdP');
    const beta = await call(h.target('node'), 'GET', '/login', { host: 'beta.test' });
    expect(beta.text).not.toContain('Sign in with');
  });
});

for (const runtime of RUNTIMES) {
  describe(`single sign-on through a real OpenID provider on ${runtime}`, () => {
    const target = () => h.target(runtime);

    /** Starts at Homeroom; returns the provider URL and the browser's state cookie. */
    async function start(next = '/home') {
      const r = await call(
        target(),
        'GET',
        `/login/sso/${providerId}?next=${encodeURIComponent(next)}`,
        {
          host: ALPHA,
        },
      );
      expect(r.status, r.text).toBe(303);
      const cookie = cookieOf(r, '__Host-homeroom_sso')!;
      expect(cookie).toBeTruthy();
      const url = new URL(String(r.headers.location));
      expect(url.origin).toBe(ISSUER);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('redirect_uri')).toBe('https://alpha.test/login/sso/callback');
      return { url, cookie };
    }

    const callback = (back: URL, cookie: string | null, host = ALPHA) =>
      call(target(), 'GET', `${back.pathname}${back.search}`, {
        host,
        headers: cookie ? { cookie } : {},
      });

    it('signs an existing user in by verified email, once per started sign-in', async () => {
      const { url, cookie } = await start('/home');
      const back = await atProvider(url.toString(), 'ada');
      expect(back.pathname).toBe('/login/sso/callback');
      const r = await callback(back, cookie);
      expect(r.status, r.text).toBe(303);
      expect(r.headers.location).toBe('/home');
      expect(cookieOf(r, '__Host-homeroom_session')).toBeTruthy();
      const db = await h.staff.db();
      const { rows } = await db.query(
        `select after from audit_log where action = 'auth.login' and entity_id = $1
          order by occurred_at desc limit 1`,
        [adaId],
      );
      expect(rows[0].after).toMatchObject({ via: 'sso', provider_id: providerId });
      // The same callback again: the state is spent.
      const again = await callback(back, cookie);
      expect(again.status).toBe(403);
      expect(cookieOf(again, '__Host-homeroom_session')).toBeUndefined();
    });

    it('refuses a callback whose state is not the browser’s', async () => {
      const { url, cookie } = await start();
      const back = await atProvider(url.toString(), 'ada');
      const other = await start();
      // The callback carries this flow's state, the browser holds another flow's cookie.
      const r = await callback(back, other.cookie);
      expect(r.status).toBe(403);
      expect(cookieOf(r, '__Host-homeroom_session')).toBeUndefined();
      const none = await callback(back, null);
      expect(none.status).toBe(403);
      // Unharmed by those attempts, the right browser still completes it.
      expect((await callback(back, cookie)).status).toBe(303);
      expect((await auditReasons()).filter((r) => r === 'state_mismatch').length).toBeGreaterThan(
        0,
      );
    });

    it('refuses an ID token whose nonce is not the one sent', async () => {
      const { url, cookie } = await start();
      url.searchParams.set('nonce', 'a-nonce-homeroom-never-sent');
      const r = await callback(await atProvider(url.toString(), 'ada'), cookie);
      expect(r.status).toBe(403);
      expect(cookieOf(r, '__Host-homeroom_session')).toBeUndefined();
      expect(await auditReasons()).toContain('nonce_mismatch');
    });

    it('refuses a code issued for another PKCE challenge', async () => {
      const { url, cookie } = await start();
      url.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
      const r = await callback(await atProvider(url.toString(), 'ada'), cookie);
      expect(r.status).toBe(403);
      expect(await auditReasons()).toContain('code_refused');
    });

    it('refuses an unverified email and a domain the tenant does not allow', async () => {
      const a = await start();
      const unverified = await callback(await atProvider(a.url.toString(), 'unverified'), a.cookie);
      expect(unverified.status).toBe(403);
      const b = await start();
      const outsider = await callback(await atProvider(b.url.toString(), 'outsider'), b.cookie);
      expect(outsider.status).toBe(403);
      expect(cookieOf(outsider, '__Host-homeroom_session')).toBeUndefined();
      const reasons = await auditReasons();
      expect(reasons).toContain('email_unverified');
      expect(reasons).toContain('domain_not_allowed');
    });

    it('creates users only for an auto-create domain', async () => {
      const a = await start();
      const stranger = await callback(await atProvider(a.url.toString(), 'stranger'), a.cookie);
      expect(stranger.status).toBe(403);
      expect(stranger.text).toContain('no active account');
      const b = await start();
      const newcomer = await callback(await atProvider(b.url.toString(), 'newcomer'), b.cookie);
      expect(newcomer.status, newcomer.text).toBe(303);
      const db = await h.staff.db();
      const { rows } = await db.query(
        `select u.id, u.password_hash, (select count(*)::int from user_roles r where r.user_id = u.id) as roles
           from users u where u.tenant_id = $1 and u.email = 'newcomer@new.school.example'`,
        [h.tenants.alpha.id],
      );
      expect(rows).toEqual([{ id: expect.any(String), password_hash: null, roles: 0 }]);
      const created = await db.query(
        `select after from audit_log where action = 'user.create' and entity_id = $1`,
        [rows[0].id],
      );
      expect(created.rows[0].after).toMatchObject({ via: 'sso', provider_id: providerId });
    });

    it('refuses alpha’s sign-in completed on beta’s host', async () => {
      const { url, cookie } = await start();
      const back = await atProvider(url.toString(), 'ada');
      const r = await callback(back, cookie, 'beta.test');
      expect(r.status).toBe(403);
      expect(cookieOf(r, '__Host-homeroom_session')).toBeUndefined();
    });
  });
}
