import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../support/api.js';
import { ADMIN_PASSWORD, createApiWorld, REDIS_URL, type ApiWorld } from '../support/api-world.js';

// Sign-in attempts are limited per tenant and client IP across accounts (password
// spraying), on the JSON endpoint and the browser form alike.
let world: ApiWorld;
beforeAll(async () => {
  world = await createApiWorld('auth_rate', { vars: { LOGIN_RATE_LIMIT: '3' } });
});
afterAll(async () => {
  await world?.close();
});
// Both runtimes share Redis and the client IP: start each case with fresh windows.
beforeEach(async () => {
  const redis = new Redis(REDIS_URL);
  for (const tenant of [world.alpha, world.beta]) {
    const keys = await redis.keys(`rl:login:${tenant.id}:*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
});

describe.each(['node', 'workerd'] as const)('sign-in rate limit on %s', (runtime) => {
  const target = () => world.targets.find((t) => t.runtime === runtime)!;

  it('answers 429 with Retry-After past the limit, whatever the account, per tenant', async () => {
    const statuses: number[] = [];
    for (const email of ['a@alpha.test', 'b@alpha.test', 'c@alpha.test', 'admin@alpha.test']) {
      const r = await call(target(), 'POST', '/v1/auth/login', {
        host: 'alpha.test',
        body: { email, password: ADMIN_PASSWORD },
      });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    }
    // The right password does not get through once the window is spent.
    expect(statuses).toEqual([401, 401, 401, 429]);
    const form = await call(target(), 'POST', '/login', {
      host: 'alpha.test',
      rawBody: 'email=admin%40alpha.test&password=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://alpha.test' },
    });
    expect(form.status).toBe(429);
    // Another tenant's window is its own.
    const beta = await call(target(), 'POST', '/v1/auth/login', {
      host: 'beta.test',
      body: { email: 'admin@beta.test', password: ADMIN_PASSWORD },
    });
    expect(beta.status).toBe(200);
  });

  it('spends the same window on second-factor codes and single sign-on callbacks', async () => {
    const attempts = [
      () =>
        call(target(), 'POST', '/v1/auth/mfa/verify', {
          host: 'alpha.test',
          body: { challenge_token: 'not-a-challenge', code: '123456' },
        }),
      () =>
        call(target(), 'POST', '/login/mfa', {
          host: 'alpha.test',
          rawBody: 'code=123456',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      () => call(target(), 'GET', '/login/sso/callback?state=s&code=c', { host: 'alpha.test' }),
    ];
    const statuses: number[] = [];
    for (const attempt of attempts) statuses.push((await attempt()).status);
    expect(statuses).toEqual([401, 401, 403]);
    for (const attempt of attempts) expect((await attempt()).status).toBe(429);
  });
});
