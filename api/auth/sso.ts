import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { Tx } from '../../db/connection.js';
import type { SSO_KINDS } from '../../db/schema/auth.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { decryptSecret, encryptSecret } from '../../db/secrets.js';
import type { AppEnv } from '../app-env.js';
import { hashToken, newOpaqueToken, recordAuthEvent } from './sessions.js';

/**
 * Single sign-on with OpenID Connect (docs/tenancy-and-security.md#single-sign-on): the
 * authorization code flow with PKCE (S256), a state bound to the browser by a cookie and
 * stored hashed for one use within ten minutes, a nonce, and the ID token verified with
 * jose against the keys the issuer's discovery document names. Users are matched by
 * verified email; only a domain the tenant lists for it may create a user.
 */

export type SsoKind = (typeof SSO_KINDS)[number];

/** Issuers of the well-known providers (Entra ID's names the directory: `{tenant}`). */
export const WELL_KNOWN_ISSUERS: Record<Exclude<SsoKind, 'oidc'>, string> = {
  google: 'https://accounts.google.com',
  microsoft: 'https://login.microsoftonline.com/{tenant}/v2.0',
};

/** How long a started sign-in may take at the provider. */
export const SSO_LOGIN_TTL_SECONDS = 10 * 60;
const FETCH_TIMEOUT_MS = 10_000;

export interface ProviderInput {
  kind: SsoKind;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret?: string | null | undefined;
  allowedDomains: string[];
  autoCreateDomains: string[];
  enabled: boolean;
}

export interface ProviderView {
  id: string;
  kind: string;
  name: string;
  issuer: string;
  client_id: string;
  has_client_secret: boolean;
  allowed_domains: string[];
  auto_create_domains: string[];
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

const columns = {
  id: t.ssoProviders.id,
  kind: t.ssoProviders.kind,
  name: t.ssoProviders.name,
  issuer: t.ssoProviders.issuer,
  clientId: t.ssoProviders.clientId,
  secret: t.ssoProviders.clientSecretEncrypted,
  allowedDomains: t.ssoProviders.allowedDomains,
  autoCreateDomains: t.ssoProviders.autoCreateDomains,
  enabled: t.ssoProviders.enabled,
  createdAt: t.ssoProviders.createdAt,
  updatedAt: t.ssoProviders.updatedAt,
};
type ProviderRow = {
  id: string;
  kind: string;
  name: string;
  issuer: string;
  clientId: string;
  secret: string | null;
  allowedDomains: string[];
  autoCreateDomains: string[];
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
};

/** What the API shows of a provider: never the secret, only whether there is one. */
export function viewOf(row: ProviderRow): ProviderView {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    issuer: row.issuer,
    client_id: row.clientId,
    has_client_secret: row.secret !== null,
    allowed_domains: row.allowedDomains,
    auto_create_domains: row.autoCreateDomains,
    enabled: row.enabled,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export async function listProviders(tx: Tx<TenantSchema>): Promise<ProviderRow[]> {
  return tx
    .select(columns)
    .from(t.ssoProviders)
    .where(isNull(t.ssoProviders.deletedAt))
    .orderBy(t.ssoProviders.name);
}

export async function getProvider(
  tx: Tx<TenantSchema>,
  id: string,
  options: { enabledOnly?: boolean } = {},
): Promise<ProviderRow | null> {
  const [row] = await tx
    .select(columns)
    .from(t.ssoProviders)
    .where(
      and(
        eq(t.ssoProviders.id, id),
        isNull(t.ssoProviders.deletedAt),
        options.enabledOnly ? eq(t.ssoProviders.enabled, true) : undefined,
      ),
    );
  return row ?? null;
}

/** The providers the sign-in page offers. */
export async function enabledProviders(
  tx: Tx<TenantSchema>,
): Promise<{ id: string; name: string }[]> {
  return tx
    .select({ id: t.ssoProviders.id, name: t.ssoProviders.name })
    .from(t.ssoProviders)
    .where(and(isNull(t.ssoProviders.deletedAt), eq(t.ssoProviders.enabled, true)))
    .orderBy(t.ssoProviders.name);
}

export async function createProvider(
  tx: Tx<TenantSchema>,
  tenantId: string,
  input: ProviderInput,
  secretKey: string,
): Promise<ProviderRow> {
  const [row] = await tx
    .insert(t.ssoProviders)
    .values({
      tenantId,
      kind: input.kind,
      name: input.name,
      issuer: input.issuer,
      clientId: input.clientId,
      clientSecretEncrypted: input.clientSecret
        ? await encryptSecret(input.clientSecret, secretKey)
        : null,
      allowedDomains: input.allowedDomains,
      autoCreateDomains: input.autoCreateDomains,
      enabled: input.enabled,
    })
    .returning(columns);
  return row!;
}

export async function updateProvider(
  tx: Tx<TenantSchema>,
  id: string,
  input: Partial<ProviderInput>,
  secretKey: string,
): Promise<ProviderRow | null> {
  const { clientSecret, ...rest } = input;
  const [row] = await tx
    .update(t.ssoProviders)
    .set({
      ...rest,
      ...(clientSecret === undefined
        ? {}
        : {
            clientSecretEncrypted: clientSecret
              ? await encryptSecret(clientSecret, secretKey)
              : null,
          }),
      updatedAt: sql`now()`,
    })
    .where(and(eq(t.ssoProviders.id, id), isNull(t.ssoProviders.deletedAt)))
    .returning(columns);
  return row ?? null;
}

export async function deleteProvider(tx: Tx<TenantSchema>, id: string): Promise<boolean> {
  const rows = await tx
    .update(t.ssoProviders)
    .set({ deletedAt: sql`now()`, enabled: false })
    .where(and(eq(t.ssoProviders.id, id), isNull(t.ssoProviders.deletedAt)))
    .returning({ id: t.ssoProviders.id });
  return rows.length > 0;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

/** Why a sign-in with a provider failed: logged and audited, never shown beyond a generic page. */
export class SsoError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

async function fetchJson(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new SsoError('provider_unreachable', `${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SsoError('provider_error', `${url}: ${res.status}, not JSON`);
  }
  if (!res.ok || typeof body !== 'object' || body === null) {
    const error = (body as { error?: unknown } | null)?.error;
    throw new SsoError('provider_error', `${url}: ${res.status} ${String(error ?? '')}`);
  }
  return body as Record<string, unknown>;
}

/** The issuer's discovery document, whose `issuer` must be the configured one exactly. */
async function discover(issuer: string): Promise<Discovery> {
  const doc = await fetchJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  const fields = ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const;
  for (const f of fields) {
    if (typeof doc[f] !== 'string') throw new SsoError('bad_discovery', `discovery lacks ${f}`);
  }
  if (doc.issuer !== issuer) {
    throw new SsoError('bad_discovery', `discovery names issuer ${String(doc.issuer)}`);
  }
  return doc as unknown as Discovery;
}

const base64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

/**
 * Starts a sign-in with a provider: stores the state (hashed), nonce and PKCE verifier and
 * returns the state (for the browser's cookie) and where to send the browser.
 */
export async function startSsoLogin(
  c: Context<AppEnv>,
  provider: ProviderRow,
  input: { redirectUri: string; next: string },
): Promise<{ state: string; url: string }> {
  const discovery = await discover(provider.issuer);
  const state = newOpaqueToken();
  const nonce = newOpaqueToken();
  const verifier = newOpaqueToken();
  await c
    .get('tx')
    .insert(t.ssoLogins)
    .values({
      tenantId: c.get('tenant').id,
      providerId: provider.id,
      stateHash: await hashToken(state),
      nonce,
      codeVerifier: verifier,
      redirectUri: input.redirectUri,
      next: input.next,
      expiresAt: sql`now() + make_interval(secs => ${SSO_LOGIN_TTL_SECONDS})`,
    });
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: provider.clientId,
    redirect_uri: input.redirectUri,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
    ...(provider.allowedDomains.length === 1 && provider.kind === 'google'
      ? { hd: provider.allowedDomains[0]! }
      : {}),
  }).toString();
  return { state, url: url.toString() };
}

export interface SsoIdentity {
  providerId: string;
  providerName: string;
  email: string;
  firstName: string;
  lastName: string;
  subject: string;
  next: string;
}

/**
 * Finishes a sign-in at the callback: the state must match the browser's cookie and a
 * started, unexpired, unused sign-in of this tenant; the code is exchanged with the PKCE
 * verifier; the ID token must verify against the issuer's keys, for this client, with the
 * stored nonce, and carry a verified email of an allowed domain.
 */
export async function finishSsoLogin(
  c: Context<AppEnv>,
  input: { state: string; cookieState: string | undefined; code: string },
): Promise<SsoIdentity> {
  if (!input.cookieState || input.cookieState !== input.state) {
    throw new SsoError('state_mismatch', 'state does not match this browser');
  }
  const tx = c.get('tx');
  const [login] = await tx
    .update(t.ssoLogins)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(t.ssoLogins.stateHash, await hashToken(input.state)),
        isNull(t.ssoLogins.usedAt),
        gt(t.ssoLogins.expiresAt, sql`now()`),
      ),
    )
    .returning({
      providerId: t.ssoLogins.providerId,
      nonce: t.ssoLogins.nonce,
      verifier: t.ssoLogins.codeVerifier,
      redirectUri: t.ssoLogins.redirectUri,
      next: t.ssoLogins.next,
    });
  if (!login) throw new SsoError('state_unknown', 'no such sign-in, or used or expired');
  const provider = await getProvider(tx, login.providerId, { enabledOnly: true });
  if (!provider) throw new SsoError('provider_disabled', 'provider removed or disabled');
  const discovery = await discover(provider.issuer);

  const secret = provider.secret
    ? await decryptSecret(provider.secret, c.get('services').config.authSecretKey)
    : null;
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: input.code,
    redirect_uri: login.redirectUri,
    code_verifier: login.verifier,
    ...(secret ? {} : { client_id: provider.clientId }),
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (secret) {
    const basic = `${encodeURIComponent(provider.clientId)}:${encodeURIComponent(secret)}`;
    headers.authorization = `Basic ${btoa(basic)}`;
  }
  const tokens = await fetchJson(discovery.token_endpoint, {
    method: 'POST',
    headers,
    body: form.toString(),
  }).catch((err: unknown) => {
    // A refused code (wrong PKCE verifier, replayed or foreign code) is the caller's failure.
    if (err instanceof SsoError && err.reason === 'provider_error') {
      throw new SsoError('code_refused', err.message);
    }
    throw err;
  });
  if (typeof tokens.id_token !== 'string') throw new SsoError('no_id_token', 'no id_token');

  let claims: Record<string, unknown>;
  try {
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), {
      timeoutDuration: FETCH_TIMEOUT_MS,
    });
    ({ payload: claims } = await jwtVerify(tokens.id_token, jwks, {
      issuer: discovery.issuer,
      audience: provider.clientId,
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) {
      throw new SsoError('id_token_invalid', err.message);
    }
    throw err;
  }
  if (claims.nonce !== login.nonce) throw new SsoError('nonce_mismatch', 'nonce does not match');

  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : '';
  // Entra ID issues no email_verified; its optional `xms_edov` says the domain owner verified it.
  const verified =
    claims.email_verified === true ||
    claims.email_verified === 'true' ||
    (provider.kind === 'microsoft' && claims.xms_edov === true);
  if (!email || !verified) throw new SsoError('email_unverified', 'no verified email');
  const domain = email.split('@')[1] ?? '';
  if (!provider.allowedDomains.includes(domain)) {
    throw new SsoError('domain_not_allowed', `domain ${domain} not allowed`);
  }
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : '');
  return {
    providerId: provider.id,
    providerName: provider.name,
    email,
    firstName: str(claims.given_name) || email.split('@')[0]!,
    lastName: str(claims.family_name),
    subject: str(claims.sub),
    next: login.next,
  };
}

/**
 * The active user an identity signs in as: matched by email; created (with no roles and no
 * password) only when the provider allows it for the email's domain. Null when there is
 * none, or the user is disabled or locked.
 */
export async function userForIdentity(
  c: Context<AppEnv>,
  identity: SsoIdentity,
  provider: { autoCreateDomains: string[] },
): Promise<{ id: string; created: boolean } | null> {
  const tx = c.get('tx');
  const [user] = await tx
    .select({ id: t.users.id, status: t.users.status, lockedUntil: t.users.lockedUntil })
    .from(t.users)
    .where(and(sql`lower(${t.users.email}) = ${identity.email}`, isNull(t.users.deletedAt)))
    .limit(1);
  if (user) {
    const locked = !!user.lockedUntil && user.lockedUntil.getTime() > Date.now();
    return user.status === 'active' && !locked ? { id: user.id, created: false } : null;
  }
  const domain = identity.email.split('@')[1] ?? '';
  if (!provider.autoCreateDomains.includes(domain)) return null;
  const [created] = await tx
    .insert(t.users)
    .values({
      tenantId: c.get('tenant').id,
      email: identity.email,
      firstName: identity.firstName,
      lastName: identity.lastName,
    })
    .returning({ id: t.users.id });
  await recordAuthEvent(tx, c, {
    action: 'user.create',
    entityType: 'user',
    entityId: created!.id,
    actorUserId: null,
    after: { email: identity.email, via: 'sso', provider_id: identity.providerId },
  });
  return { id: created!.id, created: true };
}
