import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { AppEnv } from '../app-env.js';
import { commitDespiteRefusal } from '../tenancy/middleware.js';
import { clientInet } from '../audit.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Sessions. A session is a family of `refresh_tokens` rows sharing `family_id`, which is
 * also the `sid` claim of every access token issued in it: revoking the family (logout,
 * detected token theft) revokes its refresh tokens and, through `loadPrincipal`, its access
 * tokens at once. A browser session is a family of one row whose token is never disclosed.
 */

/**
 * What the client receives from login and refresh
 * (docs/tenancy-and-security.md#authentication).
 */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** 32 random bytes, base64url: an opaque bearer secret. */
export function newOpaqueToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** How an opaque token is stored: SHA-256, hex. A database leak discloses no usable token. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The keys of the roles a user holds now (the `roles` claim; authorisation re-reads them). */
export async function roleKeysOf(tx: Tx<TenantSchema>, userId: string): Promise<string[]> {
  const rows = await tx
    .selectDistinct({ key: t.roles.key })
    .from(t.userRoles)
    .innerJoin(
      t.roles,
      and(eq(t.roles.tenantId, t.userRoles.tenantId), eq(t.roles.id, t.userRoles.roleId)),
    )
    .where(
      and(eq(t.userRoles.userId, userId), isNull(t.userRoles.deletedAt), isNull(t.roles.deletedAt)),
    )
    .orderBy(t.roles.key);
  return rows.map((r) => r.key);
}

const userAgentOf = (c: Context<AppEnv>) => c.req.header('user-agent')?.slice(0, 512) ?? null;

/**
 * Stores a refresh token of a session family in the request's transaction and returns
 * the token itself (shown once, never stored).
 */
async function storeRefreshToken(
  c: Context<AppEnv>,
  row: { userId: string; familyId: string; expiresAt: Date | SQL },
): Promise<string> {
  const token = newOpaqueToken();
  await c
    .get('tx')
    .insert(t.refreshTokens)
    .values({
      tenantId: c.get('tenant').id,
      userId: row.userId,
      familyId: row.familyId,
      tokenHash: await hashToken(token),
      expiresAt: row.expiresAt,
      userAgent: userAgentOf(c),
      ip: clientInet(c),
    });
  return token;
}

/** Opens a new API session for a user: a refresh-token family and its first token pair. */
export async function startApiSession(c: Context<AppEnv>, userId: string): Promise<TokenPair> {
  const { config } = c.get('services');
  const sid = crypto.randomUUID();
  const refreshToken = await storeRefreshToken(c, {
    userId,
    familyId: sid,
    expiresAt: sql`now() + make_interval(secs => ${config.REFRESH_TOKEN_TTL_SECONDS})`,
  });
  return tokenPair(c, userId, sid, refreshToken);
}

/**
 * Opens a browser session: a family of one row (its token is discarded, so it can never
 * be refreshed) that exists so that logout and revocation work as for API sessions.
 */
export async function startBrowserSession(
  c: Context<AppEnv>,
  userId: string,
  audience: string,
): Promise<{ token: string; sid: string; ttlSeconds: number }> {
  const { config, keys } = c.get('services');
  const sid = crypto.randomUUID();
  const ttlSeconds = config.BROWSER_SESSION_TTL_SECONDS;
  await storeRefreshToken(c, {
    userId,
    familyId: sid,
    expiresAt: sql`now() + make_interval(secs => ${ttlSeconds})`,
  });
  const token = await keys.sign(
    { sub: userId, tenant: c.get('tenant').id, roles: await roleKeysOf(c.get('tx'), userId), sid },
    { audience, ttlSeconds },
  );
  return { token, sid, ttlSeconds };
}

async function tokenPair(
  c: Context<AppEnv>,
  userId: string,
  sid: string,
  refreshToken: string,
): Promise<TokenPair> {
  const { config, keys } = c.get('services');
  const accessToken = await keys.sign(
    { sub: userId, tenant: c.get('tenant').id, roles: await roleKeysOf(c.get('tx'), userId), sid },
    { audience: config.JWT_AUDIENCE, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS },
  );
  return {
    access_token: accessToken,
    refresh_token: refreshToken,
    token_type: 'Bearer',
    expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
  };
}

export type RefreshOutcome =
  | { ok: true; pair: TokenPair; userId: string; sid: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused' | 'inactive_user' };

/**
 * Rotates a refresh token: the presented one is marked used and a new one of the same
 * family (same `sid`, same absolute expiry: rotation never extends a session) is issued.
 *
 * Presenting a token that was already used means two parties hold it — the client and a
 * thief — so the whole family is revoked. That revocation must survive the 401 that
 * follows: see commitDespiteRefusal. The request has only read at that point.
 */
export async function rotateRefreshToken(
  c: Context<AppEnv>,
  presented: string,
): Promise<RefreshOutcome> {
  const tx = c.get('tx');
  const hash = await hashToken(presented);
  const [row] = await tx
    .select({
      id: t.refreshTokens.id,
      userId: t.refreshTokens.userId,
      familyId: t.refreshTokens.familyId,
      expiresAt: t.refreshTokens.expiresAt,
      usedAt: t.refreshTokens.usedAt,
      revokedAt: t.refreshTokens.revokedAt,
      expired: sql<boolean>`${t.refreshTokens.expiresAt} <= now()`,
    })
    .from(t.refreshTokens)
    .where(eq(t.refreshTokens.tokenHash, hash))
    .limit(1);
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.revokedAt) return { ok: false, reason: 'revoked' };
  if (row.usedAt) {
    await revokeFamilyForReuse(c, row.familyId, row.userId);
    return { ok: false, reason: 'reused' };
  }
  if (row.expired) return { ok: false, reason: 'expired' };

  // Claim the token atomically: of two concurrent refreshes with one token, one wins and
  // the other sees it used — which is exactly the reuse signal.
  const [claimed] = await tx
    .update(t.refreshTokens)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(t.refreshTokens.id, row.id),
        isNull(t.refreshTokens.usedAt),
        isNull(t.refreshTokens.revokedAt),
      ),
    )
    .returning({ id: t.refreshTokens.id });
  if (!claimed) {
    await revokeFamilyForReuse(c, row.familyId, row.userId);
    return { ok: false, reason: 'reused' };
  }

  const [user] = await tx
    .select({ id: t.users.id })
    .from(t.users)
    .where(
      and(eq(t.users.id, row.userId), eq(t.users.status, 'active'), isNull(t.users.deletedAt)),
    );
  if (!user) return { ok: false, reason: 'inactive_user' };

  const refreshToken = await storeRefreshToken(c, {
    userId: row.userId,
    familyId: row.familyId,
    expiresAt: row.expiresAt,
  });
  return {
    ok: true,
    pair: await tokenPair(c, row.userId, row.familyId, refreshToken),
    userId: row.userId,
    sid: row.familyId,
  };
}

/** Revokes a session family in the request's transaction; true if anything was still live. */
export async function revokeSession(tx: Tx<TenantSchema>, sid: string): Promise<boolean> {
  const revoked = await tx
    .update(t.refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(t.refreshTokens.familyId, sid), isNull(t.refreshTokens.revokedAt)))
    .returning({ id: t.refreshTokens.id });
  return revoked.length > 0;
}

async function revokeFamilyForReuse(c: Context<AppEnv>, sid: string, userId: string) {
  const services = c.get('services');
  const tenant = c.get('tenant');
  await commitDespiteRefusal(c, async (own) => {
    if (!(await revokeSession(own, sid))) return;
    await recordAuthEvent(own, c, {
      action: 'auth.refresh_reuse',
      entityType: 'session',
      entityId: sid,
      actorUserId: null,
      after: { user_id: userId, revoked: true },
    });
  });
  services.log.warn('refresh token reused: session revoked', {
    request_id: c.get('requestId'),
    tenant: tenant.id,
    user_id: userId,
    session_id: sid,
  });
}

/**
 * An audit-log row for an authentication event. Unlike `audit()` (api/audit.ts) it takes
 * the transaction and the actor explicitly: a login has no principal yet, and lockouts and
 * reuse revocations must commit despite the 401 that follows (commitDespiteRefusal).
 */
export async function recordAuthEvent(
  tx: Tx<TenantSchema>,
  c: Context<AppEnv>,
  entry: {
    action: string;
    entityType: string;
    entityId: string;
    actorUserId: string | null;
    after?: unknown;
  },
): Promise<void> {
  await tx.insert(t.auditLog).values({
    tenantId: c.get('tenant').id,
    actorUserId: entry.actorUserId,
    actorKind: entry.actorUserId ? 'user' : 'public',
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId,
    before: null,
    after: entry.after ?? null,
    requestId: c.get('requestId'),
    ip: clientInet(c),
    userAgent: userAgentOf(c),
  });
}
