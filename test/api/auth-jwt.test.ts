import { exportJWK, generateKeyPair, importJWK, SignJWT, decodeJwt, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiConfig } from '../../api/env.js';
import { call, type ApiTarget } from '../support/api.js';
import { bearer, createApiWorld, login, type ApiWorld } from '../support/api-world.js';

/**
 * docs/tenancy-and-security.md#authentication: tokens with another algorithm, issuer or audience,
 * expired or revoked tokens, browser-session tokens used as bearer tokens, and one tenant's token
 * on another tenant's host are all rejected. Tokens are forged with jose; the ones signed with the
 * deployment's real key differ from a valid token in exactly one respect, and a control case proves
 * the forging harness itself makes tokens the API accepts.
 */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';
const BETA = 'beta.test';

let world: ApiWorld;
let realKey: CryptoKey;
let kid: string;

beforeAll(async () => {
  world = await createApiWorld('auth_jwt', { vars: { LOGIN_RATE_LIMIT: '10000' } });
  // The key the deployment signs with (the development key: no JWT_SIGNING_KEYS set).
  const config = parseApiConfig({ NODE_ENV: 'test', ...world.vars });
  const jwk = config.signingKeys[0]!;
  kid = jwk.kid;
  realKey = (await importJWK({ ...jwk, alg: 'ES256' }, 'ES256')) as CryptoKey;
});

afterAll(async () => {
  await world?.close();
});

const now = () => Math.floor(Date.now() / 1000);

/** A token like the API's own, with `change` applied to the claims. */
async function forge(
  base: JWTPayload,
  change: Partial<JWTPayload> = {},
  options: { key?: CryptoKey; kid?: string; alg?: string } = {},
): Promise<string> {
  const claims = { ...base, iat: now(), exp: now() + 600, ...change };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'ES256', kid: options.kid ?? kid, typ: 'JWT' })
    .sign(options.key ?? realKey);
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

for (const runtime of RUNTIMES) {
  describe(`JWT verification on ${runtime}`, () => {
    const target = (): ApiTarget => world.targets.find((t) => t.runtime === runtime)!;
    const me = (token: string, host = ALPHA) =>
      call(target(), 'GET', '/v1/me', { host, headers: bearer(token) });
    const expect401 = async (token: string, host = ALPHA) => {
      const r = await me(token, host);
      expect(r.status, r.text).toBe(401);
      expect(r.json.type).toBe('https://docs.homeroom.app/problems/unauthenticated');
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    };

    let claims: JWTPayload;
    beforeAll(async () => {
      const pair = await login(target(), ALPHA, 'admin@alpha.test');
      claims = decodeJwt(pair.access_token);
    });

    it('accepts a token forged with the real key and valid claims (the harness works)', async () => {
      const r = await me(await forge(claims));
      expect(r.status).toBe(200);
      expect(r.json.user.id).toBe(world.alpha.adminUserId);
    });

    it('rejects HS256 tokens, including one keyed with a guessable secret', async () => {
      for (const secret of ['secret', 'homeroom', 'homeroom-api', '']) {
        const token = await new SignJWT({ ...claims, iat: now(), exp: now() + 600 })
          .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
          .sign(new TextEncoder().encode(secret || 'x'));
        await expect401(token);
      }
    });

    it('rejects the HS256 "public key as secret" confusion attack', async () => {
      const { d: _d, ...publicJwk } = parseApiConfig({ NODE_ENV: 'test', ...world.vars })
        .signingKeys[0]!;
      const token = await new SignJWT({ ...claims, iat: now(), exp: now() + 600 })
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
      await expect401(token);
    });

    it('rejects alg "none", with or without a signature', async () => {
      const body = b64url({ ...claims, iat: now(), exp: now() + 600 });
      for (const alg of ['none', 'None', 'NONE']) {
        const header = b64url({ alg, typ: 'JWT', kid });
        await expect401(`${header}.${body}.`);
        await expect401(`${header}.${body}.AAAA`);
      }
    });

    it('rejects other ES algorithms and a foreign key under our kid', async () => {
      const foreign = await generateKeyPair('ES256');
      await expect401(await forge(claims, {}, { key: foreign.privateKey }));
      await expect401(await forge(claims, {}, { key: foreign.privateKey, kid: 'attacker' }));
      const es384 = await generateKeyPair('ES384');
      await expect401(await forge(claims, {}, { key: es384.privateKey, alg: 'ES384' }));
      const rsa = await generateKeyPair('RS256');
      await expect401(await forge(claims, {}, { key: rsa.privateKey, alg: 'RS256' }));
      // An embedded key must never be trusted (jwk header injection).
      const jwk = await exportJWK(foreign.publicKey);
      const injected = await new SignJWT({ ...claims, iat: now(), exp: now() + 600 })
        .setProtectedHeader({ alg: 'ES256', jwk, typ: 'JWT' })
        .sign(foreign.privateKey);
      await expect401(injected);
    });

    it('rejects another issuer', async () => {
      await expect401(await forge(claims, { iss: 'evil' }));
      await expect401(await forge(claims, { iss: undefined }));
    });

    it('rejects another audience, including the browser-session audience', async () => {
      await expect401(await forge(claims, { aud: 'other-api' }));
      await expect401(await forge(claims, { aud: 'homeroom-api:browser' }));
      await expect401(await forge(claims, { aud: undefined }));
    });

    it('rejects expired tokens and tokens without exp', async () => {
      await expect401(await forge(claims, { iat: now() - 1000, exp: now() - 10 }));
      await expect401(await forge(claims, { exp: undefined }));
      const nbf = await forge(claims, { nbf: now() + 3600 });
      await expect401(nbf);
    });

    it('rejects tokens missing the tenant, sid or subject claims', async () => {
      await expect401(await forge(claims, { tenant: undefined }));
      await expect401(await forge(claims, { sid: undefined }));
      await expect401(await forge(claims, { sub: undefined }));
      await expect401(await forge(claims, { roles: 'network_admin' }));
    });

    it('rejects well-signed tokens whose ids are not UUIDs with 401, not 500', async () => {
      await expect401(await forge(claims, { sid: 'not-a-uuid' }));
      await expect401(await forge(claims, { sub: "x' or '1'='1" }));
      await expect401(await forge(claims, { tenant: 'alpha' }));
    });

    it('rejects a validly signed token for a session that never existed', async () => {
      await expect401(await forge(claims, { sid: crypto.randomUUID() }));
    });

    it('rejects a revoked token (after logout)', async () => {
      const pair = await login(target(), ALPHA, 'admin@alpha.test');
      expect((await me(pair.access_token)).status).toBe(200);
      const out = await call(target(), 'POST', '/v1/auth/logout', {
        host: ALPHA,
        headers: bearer(pair.access_token),
      });
      expect(out.status).toBe(204);
      await expect401(pair.access_token);
    });

    it("rejects tenant A's token on tenant B's host, even re-labelled for tenant B", async () => {
      const pair = await login(target(), ALPHA, 'admin@alpha.test');
      await expect401(pair.access_token, BETA);
      // Claiming beta's tenant id with alpha's user and session must not help either.
      await expect401(await forge(claims, { tenant: world.beta.id }), BETA);
      // And beta's own admin token is not valid on alpha.
      const betaPair = await login(target(), BETA, 'admin@beta.test');
      expect((await me(betaPair.access_token, BETA)).status).toBe(200);
      await expect401(betaPair.access_token, ALPHA);
    });

    it('rejects a browser-session cookie token used as a bearer token', async () => {
      const r = await call(target(), 'POST', '/login', {
        host: ALPHA,
        rawBody: new URLSearchParams({
          email: 'admin@alpha.test',
          password: 'Correct-Horse-Battery-9',
        }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(r.status).toBe(303);
      const cookie = String(r.headers['set-cookie']?.[0]);
      const token = /^__Host-homeroom_session=([^;]+)/.exec(cookie)![1]!;
      expect(decodeJwt(token).aud).toBe('homeroom-api:browser');
      await expect401(token);
    });
  });
}
