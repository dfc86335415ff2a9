import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import { hashPassword, passwordWeakness, verifyPassword } from '../../db/passwords.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { hashToken, newOpaqueToken } from '../auth/sessions.js';
import { writeMail, type MailSender } from './mail.js';

/**
 * Password reset and change (docs/tenancy-and-security.md#password-reset-and-change). A reset token is
 * single-use, lives 30 minutes and is stored as its SHA-256; completing a reset revokes every
 * session and refresh token of the user.
 */

export const RESET_PATH = '/reset-password';
export const RESET_TTL_MINUTES = 30;

/**
 * Starts a reset for an active user with this email: a token and the mail carrying it.
 * Returns the outbox id, or null when no active user has the address — the caller answers
 * the same either way.
 */
export async function requestPasswordReset(
  tx: Tx<TenantSchema>,
  input: {
    tenantId: string;
    email: string;
    sender: MailSender;
    origin: string;
    timezone: string;
  },
): Promise<{ outboxId: string; userId: string } | null> {
  const [user] = await tx
    .select({ id: t.users.id, email: t.users.email, firstName: t.users.firstName })
    .from(t.users)
    .where(
      and(
        sql`lower(${t.users.email}) = lower(${input.email})`,
        eq(t.users.status, 'active'),
        isNull(t.users.deletedAt),
      ),
    )
    .limit(1);
  if (!user) return null;
  const token = newOpaqueToken();
  const [reset] = await tx
    .insert(t.passwordResets)
    .values({
      tenantId: input.tenantId,
      userId: user.id,
      tokenHash: await hashToken(token),
      expiresAt: sql`now() + make_interval(mins => ${RESET_TTL_MINUTES})`,
    })
    .returning({ expiresAt: t.passwordResets.expiresAt });
  const outboxId = await writeMail(tx, input.tenantId, input.sender, {
    template: 'password_reset',
    to: user.email,
    toName: user.firstName,
    payload: {
      link: `${input.origin}${RESET_PATH}?token=${token}`,
      first_name: user.firstName,
      expires_at: reset!.expiresAt.toISOString(),
      minutes: RESET_TTL_MINUTES,
      timezone: input.timezone,
    },
  });
  return { outboxId, userId: user.id };
}

/** The user a reset token belongs to, while it is usable. */
export async function openReset(tx: Tx<TenantSchema>, token: string) {
  const [row] = await tx
    .select({
      id: t.passwordResets.id,
      userId: t.users.id,
      email: t.users.email,
      firstName: t.users.firstName,
      lastName: t.users.lastName,
    })
    .from(t.passwordResets)
    .innerJoin(t.users, eq(t.users.id, t.passwordResets.userId))
    .where(
      and(
        eq(t.passwordResets.tokenHash, await hashToken(token)),
        isNull(t.passwordResets.usedAt),
        sql`${t.passwordResets.expiresAt} > now()`,
        eq(t.users.status, 'active'),
        isNull(t.users.deletedAt),
      ),
    );
  return row ?? null;
}

/** Revokes every live session (refresh-token family) of a user, but `keepSession`. */
export async function revokeUserSessions(
  tx: Tx<TenantSchema>,
  userId: string,
  keepSession?: string,
): Promise<number> {
  const revoked = await tx
    .update(t.refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(t.refreshTokens.userId, userId),
        isNull(t.refreshTokens.revokedAt),
        keepSession ? ne(t.refreshTokens.familyId, keepSession) : undefined,
      ),
    )
    .returning({ familyId: t.refreshTokens.familyId });
  return new Set(revoked.map((r) => r.familyId)).size;
}

export type ResetOutcome =
  | { ok: true; userId: string; sessionsRevoked: number }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'weak_password'; detail: string };

/**
 * Completes a reset: checks strength, claims the token (one UPDATE, so a token works once
 * even under concurrent use), sets the password, lifts a lockout, ends every other reset
 * token and every session of the user.
 */
export async function completePasswordReset(
  tx: Tx<TenantSchema>,
  token: string,
  password: string,
): Promise<ResetOutcome> {
  const open = await openReset(tx, token);
  if (!open) return { ok: false, reason: 'invalid' };
  const weak = passwordWeakness(password, [open.email, open.firstName, open.lastName]);
  if (weak) return { ok: false, reason: 'weak_password', detail: `The password ${weak}.` };
  const [claimed] = await tx
    .update(t.passwordResets)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(t.passwordResets.id, open.id),
        isNull(t.passwordResets.usedAt),
        sql`${t.passwordResets.expiresAt} > now()`,
      ),
    )
    .returning({ id: t.passwordResets.id });
  if (!claimed) return { ok: false, reason: 'invalid' };
  await setPassword(tx, open.userId, password);
  await tx
    .update(t.passwordResets)
    .set({ usedAt: sql`now()` })
    .where(and(eq(t.passwordResets.userId, open.userId), isNull(t.passwordResets.usedAt)));
  const sessionsRevoked = await revokeUserSessions(tx, open.userId);
  return { ok: true, userId: open.userId, sessionsRevoked };
}

async function setPassword(tx: Tx<TenantSchema>, userId: string, password: string) {
  await tx
    .update(t.users)
    .set({ passwordHash: await hashPassword(password), failedLoginCount: 0, lockedUntil: null })
    .where(eq(t.users.id, userId));
}

export type ChangeOutcome =
  | { ok: true; sessionsRevoked: number }
  | { ok: false; reason: 'wrong_password' }
  | { ok: false; reason: 'weak_password'; detail: string };

/**
 * A signed-in user's change: the current password must match; the new one must be strong
 * and differ. Every other session of the user ends; the one making the change stays.
 */
export async function changePassword(
  tx: Tx<TenantSchema>,
  input: { userId: string; sessionId: string; current: string; next: string },
): Promise<ChangeOutcome> {
  const [user] = await tx
    .select({
      email: t.users.email,
      firstName: t.users.firstName,
      lastName: t.users.lastName,
      passwordHash: t.users.passwordHash,
    })
    .from(t.users)
    .where(eq(t.users.id, input.userId));
  if (!user?.passwordHash || !(await verifyPassword(input.current, user.passwordHash)))
    return { ok: false, reason: 'wrong_password' };
  if (input.current === input.next)
    return {
      ok: false,
      reason: 'weak_password',
      detail: 'The new password must differ from the current one.',
    };
  const weak = passwordWeakness(input.next, [user.email, user.firstName, user.lastName]);
  if (weak) return { ok: false, reason: 'weak_password', detail: `The password ${weak}.` };
  await setPassword(tx, input.userId, input.next);
  const sessionsRevoked = await revokeUserSessions(tx, input.userId, input.sessionId);
  return { ok: true, sessionsRevoked };
}

/** The notice a user gets after their password changed (by reset or change). */
export async function notifyPasswordChanged(
  tx: Tx<TenantSchema>,
  input: { tenantId: string; userId: string; sender: MailSender; origin: string; timezone: string },
): Promise<string | null> {
  const [user] = await tx
    .select({ email: t.users.email, firstName: t.users.firstName })
    .from(t.users)
    .where(eq(t.users.id, input.userId));
  if (!user) return null;
  return writeMail(tx, input.tenantId, input.sender, {
    template: 'password_changed',
    to: user.email,
    toName: user.firstName,
    payload: {
      first_name: user.firstName,
      forgot_link: `${input.origin}/forgot-password`,
      timezone: input.timezone,
    },
  });
}
