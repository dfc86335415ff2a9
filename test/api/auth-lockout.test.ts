import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, needsRehash, verifyPassword } from '../../db/passwords.js';
import { call, type ApiTarget } from '../support/api.js';
import { createApiWorld, login, type ApiWorld } from '../support/api-world.js';

/**
 * docs/tenancy-and-security.md#authentication: lockout after five consecutive failures; password
 * hashes upgraded on login.
 */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';
const PASSWORD = 'Lockout-Tests-Password-3';
const WRONG = 'Not-The-Password-123';

let world: ApiWorld;
let db: pg.Client; // superuser on the pool branch

beforeAll(async () => {
  world = await createApiWorld('auth_lockout', { vars: { LOGIN_RATE_LIMIT: '10000' } });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

async function createUser(email: string, passwordHash?: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `insert into users (tenant_id, email, password_hash, first_name, last_name)
     values ($1, $2, $3, 'Lock', 'Tester') returning id`,
    [world.alpha.id, email, passwordHash ?? (await hashPassword(PASSWORD))],
  );
  return rows[0]!.id;
}

async function userState(userId: string) {
  const { rows } = await db.query<{
    failed_login_count: number;
    locked_for: number | null;
    password_hash: string;
    last_login_at: Date | null;
  }>(
    `select failed_login_count, password_hash, last_login_at,
            extract(epoch from locked_until - now())::float8 as locked_for
     from users where id = $1`,
    [userId],
  );
  return rows[0]!;
}

for (const runtime of RUNTIMES) {
  describe(`login lockout and rehash on ${runtime}`, () => {
    const target = (): ApiTarget => world.targets.find((t) => t.runtime === runtime)!;
    const attempt = (email: string, password: string) =>
      call(target(), 'POST', '/v1/auth/login', { host: ALPHA, body: { email, password } });
    const formAttempt = (email: string, password: string) =>
      call(target(), 'POST', '/login', {
        host: ALPHA,
        rawBody: new URLSearchParams({ email, password }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });

    it('locks the account for 15 minutes after 5 failures, even for the right password', async () => {
      const email = `locked-${runtime}@alpha.test`;
      const userId = await createUser(email);
      for (let i = 1; i <= 5; i++) {
        const r = await attempt(email, WRONG);
        expect(r.status).toBe(401);
        expect((await userState(userId)).failed_login_count).toBe(i);
      }
      const state = await userState(userId);
      expect(state.locked_for).toBeGreaterThan(15 * 60 - 60);
      expect(state.locked_for).toBeLessThanOrEqual(15 * 60);

      const right = await attempt(email, PASSWORD);
      expect(right.status).toBe(401);
      // Indistinguishable from a wrong password: the lock is not disclosed.
      const wrong = await attempt('admin@alpha.test', WRONG);
      expect(right.json).toMatchObject({ type: wrong.json.type, detail: wrong.json.detail });
      // Attempts during the lock neither count nor extend it.
      const during = await userState(userId);
      expect(during.failed_login_count).toBe(5);
      expect(during.locked_for).toBeLessThanOrEqual(state.locked_for!);
      expect(during.last_login_at).toBeNull();

      const audit = await db.query(
        `select actor_kind, after from audit_log where action = 'auth.lockout' and entity_id = $1`,
        [userId],
      );
      expect(audit.rows).toHaveLength(1);
      expect(audit.rows[0]).toMatchObject({
        actor_kind: 'public',
        after: { failed_login_count: 5 },
      });
    });

    it('lets the user in again once the lock has expired, with a fresh count', async () => {
      const email = `expired-${runtime}@alpha.test`;
      const userId = await createUser(email);
      for (let i = 0; i < 5; i++) expect((await attempt(email, WRONG)).status).toBe(401);
      expect((await attempt(email, PASSWORD)).status).toBe(401);

      // Fast-forward: the lock ran out a second ago.
      await db.query(`update users set locked_until = now() - interval '1 second' where id = $1`, [
        userId,
      ]);
      // One failure after the lock is the first of a new series, not the sixth.
      expect((await attempt(email, WRONG)).status).toBe(401);
      const after = await userState(userId);
      expect(after.failed_login_count).toBe(1);
      expect(after.locked_for).toBeNull();

      expect((await attempt(email, PASSWORD)).status).toBe(200);
      const state = await userState(userId);
      expect(state.failed_login_count).toBe(0);
      expect(state.locked_for).toBeNull();
      expect(state.last_login_at).not.toBeNull();
    });

    it('counts consecutive failures only: a success in between resets the count', async () => {
      const email = `reset-${runtime}@alpha.test`;
      const userId = await createUser(email);
      for (let i = 0; i < 4; i++) await attempt(email, WRONG);
      expect((await userState(userId)).failed_login_count).toBe(4);
      expect((await attempt(email, PASSWORD)).status).toBe(200);
      expect((await userState(userId)).failed_login_count).toBe(0);
      for (let i = 0; i < 4; i++) await attempt(email, WRONG);
      expect((await attempt(email, PASSWORD)).status).toBe(200);
    });

    it('loses no count to concurrent failures', async () => {
      const email = `burst-${runtime}@alpha.test`;
      const userId = await createUser(email);
      const answers = await Promise.all(Array.from({ length: 5 }, () => attempt(email, WRONG)));
      expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
      const state = await userState(userId);
      expect(state.failed_login_count).toBe(5);
      expect(state.locked_for).toBeGreaterThan(0);
      expect((await attempt(email, PASSWORD)).status).toBe(401);
    });

    it('keeps serving through a burst of failures larger than the connection pool', async () => {
      // Failure counts are committed while the request's own transaction is open; doing that
      // on a second pooled connection deadlocks once the burst exceeds the pool (10 on Node).
      const weak = await hashPassword(PASSWORD, { scheme: 'pbkdf2-sha256', iterations: 1000 });
      const ids = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => createUser(`storm-${i}-${runtime}@alpha.test`, weak)),
      );
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          attempt(
            i < 25 ? `storm-${i % 5}-${runtime}@alpha.test` : `nobody-${i}@alpha.test`,
            WRONG,
          ),
        ),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(30).fill(401));
      for (const id of ids) {
        const state = await userState(id);
        expect(state.failed_login_count).toBe(5);
        expect(state.locked_for).toBeGreaterThan(0);
      }
      const profile = await call(target(), 'GET', '/v1/public/profile', { host: ALPHA });
      expect(profile.status).toBe(200);
    });

    it('shares one count between the API and the browser sign-in form', async () => {
      const email = `mixed-${runtime}@alpha.test`;
      const userId = await createUser(email);
      for (let i = 0; i < 3; i++) expect((await formAttempt(email, WRONG)).status).toBe(401);
      for (let i = 0; i < 2; i++) expect((await attempt(email, WRONG)).status).toBe(401);
      expect((await userState(userId)).locked_for).toBeGreaterThan(0);
      const form = await formAttempt(email, PASSWORD);
      expect(form.status).toBe(401);
      expect(form.headers['set-cookie']).toBeUndefined();
    });

    it('upgrades a hash stored with fewer iterations on login, and only on success', async () => {
      const email = `rehash-${runtime}@alpha.test`;
      const old = await hashPassword(PASSWORD, { scheme: 'pbkdf2-sha256', iterations: 100_000 });
      const userId = await createUser(email, old);
      expect(needsRehash(old)).toBe(true);

      expect((await attempt(email, WRONG)).status).toBe(401);
      expect((await userState(userId)).password_hash).toBe(old);

      const pair = await login(target(), ALPHA, email, PASSWORD);
      expect(pair.access_token).toBeTruthy();
      const upgraded = (await userState(userId)).password_hash;
      expect(upgraded).not.toBe(old);
      // Node upgrades to scrypt; a Worker, which cannot hold scrypt's memory, to PBKDF2 at 600k.
      expect(upgraded.split('$').slice(0, runtime === 'node' ? 4 : 2)).toEqual(
        runtime === 'node' ? ['scrypt', '17', '8', '1'] : ['pbkdf2-sha256', '600000'],
      );
      expect(needsRehash(upgraded)).toBe(false);
      expect(await verifyPassword(PASSWORD, upgraded)).toBe(true);

      const audit = await db.query(
        `select after from audit_log where action = 'auth.login' and entity_id = $1`,
        [userId],
      );
      expect(audit.rows).toEqual([{ after: { via: 'token', password_rehashed: true } }]);

      // The upgraded hash works, and is not rewritten again.
      expect((await attempt(email, PASSWORD)).status).toBe(200);
      expect((await userState(userId)).password_hash).toBe(upgraded);
    });

    it('refuses a user whose stored hash has an unknown scheme, without a 5xx', async () => {
      const email = `scheme-${runtime}@alpha.test`;
      await createUser(email, `bcrypt$10$${'a'.repeat(22)}$${'b'.repeat(31)}`);
      const r = await attempt(email, PASSWORD);
      expect(r.status).toBe(401);
    });
  });
}
