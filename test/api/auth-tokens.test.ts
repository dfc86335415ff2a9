import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../db/passwords.js';
import { call, type ApiTarget } from '../support/api.js';
import {
  ADMIN_PASSWORD,
  bearer,
  createApiWorld,
  login,
  type ApiWorld,
} from '../support/api-world.js';

/** POST /v1/auth/login, /refresh, /logout and GET /v1/me: happy paths, errors, security. */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';
const BETA = 'beta.test';
const PASSWORD = 'Token-Tests-Password-7';

let world: ApiWorld;
let db: pg.Client; // superuser on the pool branch: white-box setup and assertions

beforeAll(async () => {
  world = await createApiWorld('auth_tokens', { vars: { LOGIN_RATE_LIMIT: '10000' } });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Creates an active user in alpha with the given role (scoped to an org unit, or tenant-wide). */
async function createUser(
  email: string,
  options: { role?: string; orgUnitId?: string | null; status?: string } = {},
): Promise<string> {
  const tenantId = world.alpha.id;
  const { rows } = await db.query<{ id: string }>(
    `insert into users (tenant_id, email, password_hash, first_name, last_name, status)
     values ($1, $2, $3, 'Test', 'User', $4) returning id`,
    [tenantId, email, await hashPassword(PASSWORD), options.status ?? 'active'],
  );
  const userId = rows[0]!.id;
  if (options.role) {
    await db.query(
      `insert into user_roles (tenant_id, user_id, role_id, org_unit_id)
       select $1, $2, id, $4 from roles where tenant_id = $1 and key = $3`,
      [tenantId, userId, options.role, options.orgUnitId ?? null],
    );
  }
  return userId;
}

function expectProblem(
  r: { status: number; headers: Record<string, unknown>; json: { type?: string } },
  status: number,
  code: string,
) {
  expect(r.status).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(r.json.type).toBe(`https://docs.homeroom.app/problems/${code}`);
}

for (const runtime of RUNTIMES) {
  describe(`auth tokens on ${runtime}`, () => {
    const target = (): ApiTarget => world.targets.find((t) => t.runtime === runtime)!;
    const api = (
      method: string,
      path: string,
      options: {
        host?: string;
        headers?: Record<string, string>;
        body?: unknown;
        rawBody?: string;
      } = {},
    ) => call(target(), method, path, { host: ALPHA, ...options });

    it('documents the JSON endpoints in OpenAPI, login and refresh without security', async () => {
      const r = await call(target(), 'GET', '/openapi.json', { host: 'localhost' });
      expect(r.status).toBe(200);
      const paths = r.json.paths;
      for (const path of ['/v1/auth/login', '/v1/auth/refresh']) {
        expect(paths[path].post.security).toEqual([]);
        expect(paths[path].post.requestBody.content['application/json'].schema).toBeTruthy();
        expect(paths[path].post.responses['200']).toBeTruthy();
        expect(paths[path].post.responses['401'].content['application/problem+json']).toBeTruthy();
      }
      expect(paths['/v1/auth/logout'].post.security).toBeUndefined();
      expect(paths['/v1/auth/logout'].post.responses['204']).toBeTruthy();
      expect(paths['/v1/me'].get.responses['200'].content['application/json'].schema).toBeTruthy();
      expect(paths['/login']).toBeUndefined();
    });

    describe('POST /v1/auth/login', () => {
      it('returns an ES256 access token with the required claims and a stored, hashed refresh token', async () => {
        const r = await api('POST', '/v1/auth/login', {
          body: { email: 'admin@alpha.test', password: ADMIN_PASSWORD },
        });
        expect(r.status).toBe(200);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.json).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
        const claims = decodeJwt(r.json.access_token);
        expect(claims).toMatchObject({
          iss: 'homeroom',
          aud: 'homeroom-api',
          sub: world.alpha.adminUserId,
          tenant: world.alpha.id,
          roles: ['network_admin'],
        });
        expect(claims.exp! - claims.iat!).toBe(900);
        expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
        expect(r.json.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);

        const { rows } = await db.query(
          `select family_id, user_id, used_at, revoked_at,
                  extract(epoch from expires_at - now()) as ttl
           from refresh_tokens where token_hash = $1`,
          [sha256(r.json.refresh_token)],
        );
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          family_id: claims.sid,
          user_id: world.alpha.adminUserId,
          used_at: null,
          revoked_at: null,
        });
        expect(Number(rows[0].ttl)).toBeGreaterThan(30 * 24 * 3600 - 120);
        // The plain token is stored nowhere.
        const plain = await db.query(`select 1 from refresh_tokens where token_hash = $1`, [
          r.json.refresh_token,
        ]);
        expect(plain.rowCount).toBe(0);
      });

      it('records the login: last_login_at, a reset counter and an audit row', async () => {
        const email = `audit-${runtime}@alpha.test`;
        const userId = await createUser(email);
        await db.query(`update users set failed_login_count = 3 where id = $1`, [userId]);
        await login(target(), ALPHA, email, PASSWORD);
        const { rows } = await db.query(
          `select failed_login_count, last_login_at from users where id = $1`,
          [userId],
        );
        expect(rows[0].failed_login_count).toBe(0);
        expect(Date.now() - new Date(rows[0].last_login_at).getTime()).toBeLessThan(60_000);
        const audit = await db.query(
          `select actor_user_id, actor_kind, entity_type, entity_id, after from audit_log
           where action = 'auth.login' and entity_id = $1`,
          [userId],
        );
        expect(audit.rows).toHaveLength(1);
        expect(audit.rows[0]).toMatchObject({
          actor_user_id: userId,
          actor_kind: 'user',
          entity_type: 'user',
          after: { via: 'token', password_rehashed: false },
        });
      });

      it('matches the email case-insensitively', async () => {
        const r = await api('POST', '/v1/auth/login', {
          body: { email: 'ADMIN@Alpha.Test', password: ADMIN_PASSWORD },
        });
        expect(r.status).toBe(200);
      });

      it('answers every failure with the same 401 invalid_credentials', async () => {
        const disabled = `disabled-${runtime}@alpha.test`;
        await createUser(disabled, { status: 'disabled' });
        const attempts = [
          { email: 'admin@alpha.test', password: 'Wrong-Password-123' }, // wrong password
          { email: `nobody-${runtime}@alpha.test`, password: ADMIN_PASSWORD }, // unknown email
          { email: disabled, password: PASSWORD }, // right password, disabled user
        ];
        const answers = [];
        for (const body of attempts) {
          const r = await api('POST', '/v1/auth/login', { body });
          expectProblem(r, 401, 'invalid_credentials');
          answers.push({ title: r.json.title, detail: r.json.detail, status: r.json.status });
        }
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
        // The admin's one failure must not have locked anything out.
        await login(target(), ALPHA, 'admin@alpha.test');
      });

      it("does not log a tenant's user in on another tenant's host", async () => {
        const r = await api('POST', '/v1/auth/login', {
          host: BETA,
          body: { email: 'admin@alpha.test', password: ADMIN_PASSWORD },
        });
        expectProblem(r, 401, 'invalid_credentials');
      });

      it('answers malformed JSON with 400 and invalid_params', async () => {
        const r = await api('POST', '/v1/auth/login', { rawBody: '{"email": "admin@alpha.test",' });
        expectProblem(r, 400, 'validation_failed');
        expect(r.json.invalid_params).toEqual([{ name: 'body', reason: 'is not valid JSON' }]);
      });

      it('answers missing or mistyped fields with 400 naming each field', async () => {
        const r = await api('POST', '/v1/auth/login', { body: { email: 'admin@alpha.test' } });
        expectProblem(r, 400, 'validation_failed');
        expect(r.json.invalid_params.map((p: { name: string }) => p.name)).toEqual([
          'json.password',
        ]);
        const empty = await api('POST', '/v1/auth/login', { body: {} });
        expectProblem(empty, 400, 'validation_failed');
        expect(empty.json.invalid_params.map((p: { name: string }) => p.name).sort()).toEqual([
          'json.email',
          'json.password',
        ]);
        const typed = await api('POST', '/v1/auth/login', { body: { email: 1, password: [] } });
        expectProblem(typed, 400, 'validation_failed');
        const array = await api('POST', '/v1/auth/login', { body: [] });
        expectProblem(array, 400, 'validation_failed');
      });

      it('refuses a body that is not JSON with 415, and never answers 5xx', async () => {
        const r = await api('POST', '/v1/auth/login', {
          rawBody: 'email=admin@alpha.test&password=x',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expectProblem(r, 415, 'unsupported_media_type');
        const huge = await api('POST', '/v1/auth/login', {
          body: { email: 'admin@alpha.test', password: 'x'.repeat(100_000) },
        });
        expect(huge.status).toBe(413);
        const long = await api('POST', '/v1/auth/login', {
          body: { email: 'admin@alpha.test', password: 'x'.repeat(2000) },
        });
        expectProblem(long, 400, 'validation_failed');
      });
    });

    describe('POST /v1/auth/refresh', () => {
      it('rotates: a new pair in the same session, the presented token spent', async () => {
        const first = await login(target(), ALPHA, 'admin@alpha.test');
        const r = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: first.refresh_token },
        });
        expect(r.status).toBe(200);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.json).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
        expect(r.json.refresh_token).not.toBe(first.refresh_token);
        const before = decodeJwt(first.access_token);
        const after = decodeJwt(r.json.access_token);
        expect(after.sid).toBe(before.sid);
        expect(after.sub).toBe(before.sub);
        expect(after.jti).not.toBe(before.jti);

        const { rows } = await db.query(
          `select token_hash, used_at, expires_at from refresh_tokens where family_id = $1
           order by created_at`,
          [before.sid],
        );
        expect(rows).toHaveLength(2);
        expect(rows[0].token_hash).toBe(sha256(first.refresh_token));
        expect(rows[0].used_at).not.toBeNull();
        expect(rows[1].token_hash).toBe(sha256(r.json.refresh_token));
        expect(rows[1].used_at).toBeNull();
        // Rotation never extends the session.
        expect(rows[1].expires_at).toEqual(rows[0].expires_at);

        const me = await api('GET', '/v1/me', { headers: bearer(r.json.access_token) });
        expect(me.status).toBe(200);
      });

      it('treats reuse of a spent token as theft: 401 and the whole session revoked', async () => {
        const first = await login(target(), ALPHA, 'admin@alpha.test');
        const second = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: first.refresh_token },
        });
        expect(second.status).toBe(200);

        const replay = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: first.refresh_token },
        });
        expectProblem(replay, 401, 'unauthenticated');

        // The legitimate holder's newer tokens die with the family.
        const newest = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: second.json.refresh_token },
        });
        expectProblem(newest, 401, 'unauthenticated');
        const me = await api('GET', '/v1/me', { headers: bearer(second.json.access_token) });
        expectProblem(me, 401, 'unauthenticated');

        const sid = decodeJwt(first.access_token).sid;
        const { rows } = await db.query(
          `select count(*)::int as live from refresh_tokens
           where family_id = $1 and revoked_at is null`,
          [sid],
        );
        expect(rows[0].live).toBe(0);
        const audit = await db.query(
          `select actor_kind from audit_log where action = 'auth.refresh_reuse' and entity_id = $1`,
          [sid],
        );
        expect(audit.rows).toEqual([{ actor_kind: 'public' }]);
        // Other sessions of the same user live on.
        await login(target(), ALPHA, 'admin@alpha.test');
      });

      it('refuses unknown, expired and other-tenant refresh tokens', async () => {
        const unknown = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: 'A'.repeat(43) },
        });
        expectProblem(unknown, 401, 'unauthenticated');

        const pair = await login(target(), ALPHA, 'admin@alpha.test');
        const onBeta = await api('POST', '/v1/auth/refresh', {
          host: BETA,
          body: { refresh_token: pair.refresh_token },
        });
        expectProblem(onBeta, 401, 'unauthenticated');

        await db.query(
          `update refresh_tokens set expires_at = now() - interval '1 second'
           where token_hash = $1`,
          [sha256(pair.refresh_token)],
        );
        const expired = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: pair.refresh_token },
        });
        expectProblem(expired, 401, 'unauthenticated');
        // A failed refresh spends nothing.
        const { rows } = await db.query(
          `select used_at from refresh_tokens where token_hash = $1`,
          [sha256(pair.refresh_token)],
        );
        expect(rows[0].used_at).toBeNull();
      });

      it('refuses refresh for a user who has since been disabled', async () => {
        const email = `refresh-disabled-${runtime}@alpha.test`;
        const userId = await createUser(email);
        const pair = await login(target(), ALPHA, email, PASSWORD);
        await db.query(`update users set status = 'disabled' where id = $1`, [userId]);
        const r = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: pair.refresh_token },
        });
        expectProblem(r, 401, 'unauthenticated');
      });

      it('does not accept an access token as a refresh token, nor the reverse', async () => {
        const pair = await login(target(), ALPHA, 'admin@alpha.test');
        const swapped = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: pair.access_token },
        });
        // An access token is far longer than any refresh token: refused by shape.
        expectProblem(swapped, 400, 'validation_failed');
        const asBearer = await api('GET', '/v1/me', { headers: bearer(pair.refresh_token) });
        expectProblem(asBearer, 401, 'unauthenticated');
      });

      it('answers a malformed refresh request with 400 and invalid_params', async () => {
        const missing = await api('POST', '/v1/auth/refresh', { body: {} });
        expectProblem(missing, 400, 'validation_failed');
        expect(missing.json.invalid_params[0].name).toBe('json.refresh_token');
        const broken = await api('POST', '/v1/auth/refresh', { rawBody: 'not json' });
        expectProblem(broken, 400, 'validation_failed');
        expect(broken.json.invalid_params).toHaveLength(1);
      });
    });

    describe('POST /v1/auth/logout', () => {
      it('revokes the session: its access and refresh tokens stop working, others do not', async () => {
        const pair = await login(target(), ALPHA, 'admin@alpha.test');
        const other = await login(target(), ALPHA, 'admin@alpha.test');
        expect((await api('GET', '/v1/me', { headers: bearer(pair.access_token) })).status).toBe(
          200,
        );

        const r = await api('POST', '/v1/auth/logout', { headers: bearer(pair.access_token) });
        expect(r.status).toBe(204);
        expect(r.text).toBe('');

        const me = await api('GET', '/v1/me', { headers: bearer(pair.access_token) });
        expectProblem(me, 401, 'unauthenticated');
        expect(me.headers['www-authenticate']).toMatch(/error="invalid_token"/);
        const refresh = await api('POST', '/v1/auth/refresh', {
          body: { refresh_token: pair.refresh_token },
        });
        expectProblem(refresh, 401, 'unauthenticated');
        const again = await api('POST', '/v1/auth/logout', { headers: bearer(pair.access_token) });
        expectProblem(again, 401, 'unauthenticated');

        expect((await api('GET', '/v1/me', { headers: bearer(other.access_token) })).status).toBe(
          200,
        );
        const sid = decodeJwt(pair.access_token).sid;
        const audit = await db.query(
          `select actor_user_id, actor_kind from audit_log
           where action = 'auth.logout' and entity_id = $1`,
          [sid],
        );
        expect(audit.rows).toEqual([
          { actor_user_id: world.alpha.adminUserId, actor_kind: 'user' },
        ]);
      });

      it('requires a bearer token', async () => {
        const r = await api('POST', '/v1/auth/logout');
        expectProblem(r, 401, 'unauthenticated');
        expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      });
    });

    describe('GET /v1/me', () => {
      it('returns the user, tenant, roles with their scope, and permissions', async () => {
        const pair = await login(target(), ALPHA, 'admin@alpha.test');
        const r = await api('GET', '/v1/me', { headers: bearer(pair.access_token) });
        expect(r.status).toBe(200);
        expect(r.json.user).toMatchObject({
          id: world.alpha.adminUserId,
          email: 'admin@alpha.test',
          status: 'active',
        });
        expect(Date.parse(r.json.user.last_login_at)).toBeGreaterThan(Date.now() - 60_000);
        expect(r.json.tenant).toEqual({ id: world.alpha.id, slug: 'alpha', name: 'Alpha Academy' });
        expect(r.json.roles).toEqual([
          { key: 'network_admin', name: 'Network admin', org_unit: null },
        ]);
        expect(r.json.permissions).toContain('students.read');
        expect(r.json.permissions).toContain('roles.write');
        expect(r.json.permissions).toEqual([...r.json.permissions].sort());
      });

      it('shows a school-scoped role with its org unit and only its permissions', async () => {
        const { rows } = await db.query<{ id: string }>(
          `insert into org_units (tenant_id, parent_id, kind, name, code)
           values ($1, $2, 'school', $3, $4) returning id`,
          [world.alpha.id, world.alpha.rootOrgUnitId, `North ${runtime}`, `N-${runtime}`],
        );
        const schoolId = rows[0]!.id;
        const email = `principal-${runtime}@alpha.test`;
        await createUser(email, { role: 'principal', orgUnitId: schoolId });
        const pair = await login(target(), ALPHA, email, PASSWORD);
        expect(decodeJwt(pair.access_token).roles).toEqual(['principal']);
        const r = await api('GET', '/v1/me', { headers: bearer(pair.access_token) });
        expect(r.status).toBe(200);
        expect(r.json.roles).toEqual([
          {
            key: 'principal',
            name: 'Principal',
            org_unit: { id: schoolId, name: `North ${runtime}`, kind: 'school' },
          },
        ]);
        expect(r.json.permissions).toContain('students.read');
        expect(r.json.permissions).not.toContain('roles.write');
      });

      it('stops answering as soon as the user is disabled', async () => {
        const email = `me-disabled-${runtime}@alpha.test`;
        const userId = await createUser(email);
        const pair = await login(target(), ALPHA, email, PASSWORD);
        expect((await api('GET', '/v1/me', { headers: bearer(pair.access_token) })).status).toBe(
          200,
        );
        await db.query(`update users set status = 'disabled' where id = $1`, [userId]);
        const r = await api('GET', '/v1/me', { headers: bearer(pair.access_token) });
        expectProblem(r, 401, 'unauthenticated');
      });

      it('accepts the Bearer scheme in any letter case', async () => {
        const pair = await login(target(), ALPHA, 'admin@alpha.test');
        const r = await api('GET', '/v1/me', {
          headers: { authorization: `bearer ${pair.access_token}` },
        });
        expect(r.status).toBe(200);
      });

      it('refuses missing and malformed credentials with 401, never 5xx', async () => {
        const none = await api('GET', '/v1/me');
        expectProblem(none, 401, 'unauthenticated');
        for (const authorization of [
          'Bearer',
          'Bearer ',
          'Bearer abc',
          'Bearer a.b.c',
          'Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA',
          'Bearer ..',
          `Basic ${Buffer.from(`admin@alpha.test:${ADMIN_PASSWORD}`).toString('base64')}`,
          'Bearer a b',
        ]) {
          const r = await api('GET', '/v1/me', { headers: { authorization } });
          expectProblem(r, 401, 'unauthenticated');
        }
      });
    });
  });
}
