import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Tx } from '../../db/connection.js';
import { DEFAULT_MFA_REQUIRED_ROLES } from '../../db/schema/auth.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { decryptSecret, encryptSecret } from '../../db/secrets.js';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';
import { InvalidTokenError } from './jwt.js';
import { hashToken, roleKeysOf } from './sessions.js';

/**
 * Two-factor sign-in (docs/tenancy-and-security.md#two-factor-sign-in): TOTP (RFC 6238,
 * SHA-1, 6 digits, 30-second steps, ±1 step of clock drift) with single-use recovery codes.
 * After the password a user with an authenticator — or one whose roles the tenant's policy
 * names — gets a short-lived challenge token instead of a session; the session starts when
 * the code is given (or, for a user who must enrol, when the first code is proved).
 */

export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
/** Codes of the neighbouring steps are accepted too, for phones whose clocks drift. */
const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;
/** How long a challenge token lasts. */
export const CHALLENGE_TTL_SECONDS = 5 * 60;

export type SecondFactor = 'none' | 'verify' | 'enrol';
export type ChallengeKind = 'verify' | 'enrol';

/** The audiences of challenge tokens: never valid as access or browser tokens, nor for each other. */
export const challengeAudience = (apiAudience: string, kind: ChallengeKind) =>
  `${apiAudience}:mfa-${kind}`;

/** The roles the tenant's policy requires a second factor of (the defaults without a policy row). */
export async function mfaRequiredRoles(tx: Tx<TenantSchema>): Promise<string[]> {
  const [row] = await tx
    .select({ roles: t.authPolicies.mfaRequiredRoles })
    .from(t.authPolicies)
    .where(isNull(t.authPolicies.deletedAt))
    .limit(1);
  return row ? row.roles : [...DEFAULT_MFA_REQUIRED_ROLES];
}

/** Replaces the tenant's policy; returns the roles before and after (for the audit row). */
export async function setMfaRequiredRoles(
  tx: Tx<TenantSchema>,
  tenantId: string,
  roles: string[],
): Promise<{ before: string[]; after: string[] }> {
  const before = await mfaRequiredRoles(tx);
  const after = [...new Set(roles)].sort();
  const updated = await tx
    .update(t.authPolicies)
    .set({ mfaRequiredRoles: after })
    .where(isNull(t.authPolicies.deletedAt))
    .returning({ id: t.authPolicies.id });
  if (updated.length === 0) {
    await tx.insert(t.authPolicies).values({ tenantId, mfaRequiredRoles: after });
  }
  return { before, after };
}

/** What a user who has just given the right password must still do. */
export async function secondFactorOf(tx: Tx<TenantSchema>, userId: string): Promise<SecondFactor> {
  const [totp] = await tx
    .select({ status: t.userTotp.status })
    .from(t.userTotp)
    .where(and(eq(t.userTotp.userId, userId), isNull(t.userTotp.deletedAt)));
  if (totp?.status === 'active') return 'verify';
  const required = await mfaRequiredRoles(tx);
  if (required.length === 0) return 'none';
  const held = await roleKeysOf(tx, userId);
  return held.some((r) => required.includes(r)) ? 'enrol' : 'none';
}

export interface Challenge {
  challenge_token: string;
  expires_in: number;
}

/** A challenge token for a user who has given the right password (5 minutes, this tenant). */
export async function issueChallenge(
  c: Context<AppEnv>,
  userId: string,
  kind: ChallengeKind,
): Promise<Challenge> {
  const { config, keys } = c.get('services');
  const token = await keys.sign(
    { sub: userId, tenant: c.get('tenant').id, roles: [], sid: crypto.randomUUID() },
    { audience: challengeAudience(config.JWT_AUDIENCE, kind), ttlSeconds: CHALLENGE_TTL_SECONDS },
  );
  return { challenge_token: token, expires_in: CHALLENGE_TTL_SECONDS };
}

/**
 * The user a challenge token was issued to, or a 401: expired, forged, of another kind, or
 * issued on another tenant's host.
 */
export async function readChallenge(
  c: Context<AppEnv>,
  token: string,
  kind: ChallengeKind,
): Promise<string> {
  const { config, keys } = c.get('services');
  try {
    const claims = await keys.verify(token, challengeAudience(config.JWT_AUDIENCE, kind));
    if (claims.tenant === c.get('tenant').id) return claims.sub;
  } catch (err) {
    if (!(err instanceof InvalidTokenError)) throw err;
  }
  throw new ApiError('unauthenticated', 'The sign-in challenge is invalid or has expired.');
}

/** The step a TOTP code belongs to at `now` (ms): Unix time / 30 s. */
const stepAt = (now: number) => Math.floor(now / 1000 / TOTP_PERIOD);

function totpFor(secret: Secret, label: string, issuer: string): TOTP {
  return new TOTP({
    issuer,
    label,
    secret,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
  });
}

export interface Enrolment {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

/**
 * Starts (or restarts) enrolment: a fresh 160-bit secret stored encrypted as `pending`
 * (with `reuse`, a pending one is shown again instead: reloading the page must not
 * invalidate what the phone has scanned). Refused (409) if the user already has an
 * active authenticator.
 */
export async function startEnrolment(
  c: Context<AppEnv>,
  userId: string,
  account: { email: string; issuer: string },
  options: { reuse?: boolean } = {},
): Promise<Enrolment> {
  const tx = c.get('tx');
  const [current] = await tx
    .select({ id: t.userTotp.id, status: t.userTotp.status })
    .from(t.userTotp)
    .where(and(eq(t.userTotp.userId, userId), isNull(t.userTotp.deletedAt)))
    .for('update');
  if (current?.status === 'active') {
    throw new ApiError('conflict', 'Two-factor sign-in is already set up for this account.');
  }
  const key = c.get('services').config.authSecretKey;
  if (current && options.reuse) {
    const [pending] = await tx
      .select({ sealed: t.userTotp.secretEncrypted })
      .from(t.userTotp)
      .where(eq(t.userTotp.id, current.id));
    return enrolmentOf(Secret.fromBase32(await decryptSecret(pending!.sealed, key)), account);
  }
  const secret = new Secret({ size: 20 });
  const sealed = await encryptSecret(secret.base32, key);
  if (current) {
    await tx
      .update(t.userTotp)
      .set({ secretEncrypted: sealed, lastUsedStep: null })
      .where(eq(t.userTotp.id, current.id));
  } else {
    await tx
      .insert(t.userTotp)
      .values({ tenantId: c.get('tenant').id, userId, secretEncrypted: sealed });
  }
  return enrolmentOf(secret, account);
}

async function enrolmentOf(
  secret: Secret,
  account: { email: string; issuer: string },
): Promise<Enrolment> {
  const uri = totpFor(secret, account.email, account.issuer).toString();
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret: secret.base32, otpauth_uri: uri, qr_svg: svg };
}

/**
 * Checks a TOTP code against the user's authenticator (`pending` when confirming an
 * enrolment, else `active`) and claims its step, so that the same code — or an older one —
 * is never accepted again. True when accepted.
 */
async function acceptTotp(
  c: Context<AppEnv>,
  userId: string,
  code: string,
  status: 'pending' | 'active',
): Promise<boolean> {
  const tx = c.get('tx');
  const [row] = await tx
    .select({ id: t.userTotp.id, sealed: t.userTotp.secretEncrypted })
    .from(t.userTotp)
    .where(
      and(
        eq(t.userTotp.userId, userId),
        eq(t.userTotp.status, status),
        isNull(t.userTotp.deletedAt),
      ),
    );
  if (!row || !/^[0-9]{6}$/.test(code)) return false;
  const secret = Secret.fromBase32(
    await decryptSecret(row.sealed, c.get('services').config.authSecretKey),
  );
  const now = Date.now();
  const delta = TOTP.validate({
    token: code,
    secret,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
    timestamp: now,
    window: TOTP_WINDOW,
  });
  if (delta === null) return false;
  const step = stepAt(now) + delta;
  // One statement claims the step: of two concurrent uses of one code, one wins.
  const [claimed] = await tx
    .update(t.userTotp)
    .set({ lastUsedStep: step })
    .where(
      and(
        eq(t.userTotp.id, row.id),
        or(isNull(t.userTotp.lastUsedStep), lt(t.userTotp.lastUsedStep, step)),
      ),
    )
    .returning({ id: t.userTotp.id });
  return !!claimed;
}

/** Spends a recovery code: true once per code. */
async function acceptRecoveryCode(
  tx: Tx<TenantSchema>,
  userId: string,
  code: string,
): Promise<boolean> {
  const normal = normaliseRecoveryCode(code);
  if (!normal) return false;
  const [spent] = await tx
    .update(t.mfaRecoveryCodes)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(t.mfaRecoveryCodes.userId, userId),
        eq(t.mfaRecoveryCodes.codeHash, await hashToken(normal)),
        isNull(t.mfaRecoveryCodes.usedAt),
      ),
    )
    .returning({ id: t.mfaRecoveryCodes.id });
  return !!spent;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Recovery codes are 16 base32 characters (80 bits) shown as four groups: `ABCD-EFGH-…`. */
function normaliseRecoveryCode(code: string): string | null {
  const bare = code.toUpperCase().replace(/[\s-]/g, '');
  return /^[A-Z2-7]{16}$/.test(bare) ? bare : null;
}

function newRecoveryCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const chars = [...bytes].map((b) => BASE32[b & 31]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** Replaces the user's recovery codes with fresh ones; returns them (shown once, stored hashed). */
async function issueRecoveryCodes(c: Context<AppEnv>, userId: string): Promise<string[]> {
  const tx = c.get('tx');
  await tx.delete(t.mfaRecoveryCodes).where(eq(t.mfaRecoveryCodes.userId, userId));
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await tx.insert(t.mfaRecoveryCodes).values(
    await Promise.all(
      codes.map(async (code) => ({
        tenantId: c.get('tenant').id,
        userId,
        codeHash: await hashToken(normaliseRecoveryCode(code)!),
      })),
    ),
  );
  return codes;
}

/**
 * Confirms a pending enrolment with its first code: the authenticator becomes active and
 * ten recovery codes are issued. Null when the code is wrong.
 */
export async function confirmEnrolment(
  c: Context<AppEnv>,
  userId: string,
  code: string,
): Promise<string[] | null> {
  if (!(await acceptTotp(c, userId, code, 'pending'))) return null;
  await c
    .get('tx')
    .update(t.userTotp)
    .set({ status: 'active', confirmedAt: sql`now()` })
    .where(
      and(
        eq(t.userTotp.userId, userId),
        eq(t.userTotp.status, 'pending'),
        isNull(t.userTotp.deletedAt),
      ),
    );
  return issueRecoveryCodes(c, userId);
}

export type SecondFactorProof = { code: string } | { recoveryCode: string };

/**
 * Checks a second factor for a user who is active and not locked. Which proof was used is
 * returned (for the audit row), or null on failure.
 */
export async function checkSecondFactor(
  c: Context<AppEnv>,
  userId: string,
  proof: SecondFactorProof,
): Promise<'totp' | 'recovery_code' | null> {
  if (!(await signInAllowed(c.get('tx'), userId))) return null;
  if ('code' in proof) return (await acceptTotp(c, userId, proof.code, 'active')) ? 'totp' : null;
  return (await acceptRecoveryCode(c.get('tx'), userId, proof.recoveryCode))
    ? 'recovery_code'
    : null;
}

/** Active, not deleted and not locked: the conditions a password login also checks. */
export async function signInAllowed(tx: Tx<TenantSchema>, userId: string): Promise<boolean> {
  const [user] = await tx
    .select({ id: t.users.id })
    .from(t.users)
    .where(
      and(
        eq(t.users.id, userId),
        eq(t.users.status, 'active'),
        isNull(t.users.deletedAt),
        or(isNull(t.users.lockedUntil), sql`${t.users.lockedUntil} <= now()`),
      ),
    );
  return !!user;
}

/**
 * Completes a sign-in whose password was given earlier: clears the failure count and
 * records the login time (what a password-only login does at once).
 */
export async function completeSignIn(tx: Tx<TenantSchema>, userId: string): Promise<void> {
  await tx
    .update(t.users)
    .set({ failedLoginCount: 0, lockedUntil: null, lastLoginAt: sql`now()` })
    .where(eq(t.users.id, userId));
}

/** Removes a user's authenticator and recovery codes (an administrator's reset); false if none. */
export async function resetSecondFactor(tx: Tx<TenantSchema>, userId: string): Promise<boolean> {
  const removed = await tx
    .delete(t.userTotp)
    .where(eq(t.userTotp.userId, userId))
    .returning({ id: t.userTotp.id });
  await tx.delete(t.mfaRecoveryCodes).where(eq(t.mfaRecoveryCodes.userId, userId));
  return removed.length > 0;
}

/** How many unused recovery codes a user has left. */
export async function recoveryCodesLeft(tx: Tx<TenantSchema>, userId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(t.mfaRecoveryCodes)
    .where(and(eq(t.mfaRecoveryCodes.userId, userId), isNull(t.mfaRecoveryCodes.usedAt)));
  return row?.n ?? 0;
}
