import { importJWK, jwtVerify, SignJWT, errors, type JWTPayload, type CryptoKey } from 'jose';
import type { SigningJwk } from '../env.js';
import { isUuid } from '../../db/ids.js';

/**
 * Access tokens: ES256 JWTs signed with the first configured key and verified against all
 * of them by `kid`, so keys rotate by prepending a new one and later dropping the old.
 * Verification pins the algorithm, issuer and audience; anything else is rejected.
 */
export const ALGORITHM = 'ES256';

export interface AccessClaims {
  sub: string;
  tenant: string;
  roles: string[];
  /** Session (refresh-token family) id: revoking the session revokes its access tokens. */
  sid: string;
}

export interface TokenKeys {
  sign(claims: AccessClaims, options: { audience: string; ttlSeconds: number }): Promise<string>;
  verify(token: string, audience: string): Promise<AccessClaims & { exp: number }>;
}

export class InvalidTokenError extends Error {}

/** Builds signing and verification keys from the configured private JWKs. */
export async function createTokenKeys(keys: SigningJwk[], issuer: string): Promise<TokenKeys> {
  const imported = new Map<string, { priv: CryptoKey; pub: CryptoKey }>();
  for (const jwk of keys) {
    const priv = (await importJWK({ ...jwk, alg: ALGORITHM }, ALGORITHM)) as CryptoKey;
    const { d: _d, ...publicJwk } = jwk;
    const pub = (await importJWK({ ...publicJwk, alg: ALGORITHM }, ALGORITHM)) as CryptoKey;
    imported.set(jwk.kid, { priv, pub });
  }
  const active = keys[0]!;
  return {
    async sign(claims, { audience, ttlSeconds }) {
      return new SignJWT({ tenant: claims.tenant, roles: claims.roles, sid: claims.sid })
        .setProtectedHeader({ alg: ALGORITHM, kid: active.kid, typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(imported.get(active.kid)!.priv);
    },
    async verify(token, audience) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(
          token,
          async (header) => {
            const key = header.kid ? imported.get(header.kid) : undefined;
            if (!key) throw new InvalidTokenError('unknown key');
            return key.pub;
          },
          { algorithms: [ALGORITHM], issuer, audience, requiredClaims: ['exp', 'iat', 'sub'] },
        ));
      } catch (err) {
        if (err instanceof errors.JOSEError || err instanceof InvalidTokenError) {
          throw new InvalidTokenError(err.message);
        }
        throw err;
      }
      const { sub, tenant, roles, sid, exp } = payload as JWTPayload & Partial<AccessClaims>;
      // Ids are checked for shape here so that a malformed one is an invalid token (401),
      // not a uuid cast error from the database (500) further on.
      if (
        !isUuid(sub) ||
        !isUuid(tenant) ||
        !isUuid(sid) ||
        !Array.isArray(roles) ||
        !roles.every((r) => typeof r === 'string') ||
        typeof exp !== 'number'
      ) {
        throw new InvalidTokenError('malformed claims');
      }
      return { sub, tenant, roles, sid, exp };
    },
  };
}
