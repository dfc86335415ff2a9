import { and, eq, isNull, or, lte, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import {
  hashPassword,
  needsRehash,
  verifyPassword,
  type PasswordScheme,
} from '../../db/passwords.js';
import * as t from '../../db/schema/tenant.js';
import type { AppEnv } from '../app-env.js';
import { commitDespiteRefusal } from '../tenancy/middleware.js';
import { secondFactorOf, type SecondFactor } from './mfa.js';
import { recordAuthEvent } from './sessions.js';

/** Consecutive failures that lock an account (docs/tenancy-and-security.md#authentication). */
export const MAX_FAILED_LOGINS = 5;
/** How long a lock lasts. */
export const LOCK_SECONDS = 15 * 60;

/** The single answer to every kind of failed login: nothing tells the kinds apart. */
export const INVALID_CREDENTIALS = 'The email or password is incorrect, or the account is locked.';

/** A user who has just proved who they are; the login is recorded in the request's transaction. */
export interface AuthenticatedUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  lastLoginAt: Date;
  /** Whether the stored hash was upgraded to today's scheme and cost in this login. */
  rehashed: boolean;
  /**
   * What is still owed before a session may start (api/auth/mfa.ts). Until it is given the
   * failure count stands, so second-factor guesses count toward the same lockout.
   */
  secondFactor: SecondFactor;
}

/**
 * A hash to verify against when the email is unknown (or has no password), so that an
 * unknown email costs the same PBKDF2 work as a known one. Made lazily, because workerd
 * forbids crypto at module scope; only the finished string is shared between requests
 * (workerd objects to one request awaiting a promise another request created).
 */
const dummyHashes = new Map<PasswordScheme, string>();
async function dummy(scheme: PasswordScheme): Promise<string> {
  let hash = dummyHashes.get(scheme);
  if (!hash) {
    hash = await hashPassword(crypto.randomUUID(), scheme);
    dummyHashes.set(scheme, hash);
  }
  return hash;
}

/**
 * The scheme new hashes are made with on this runtime: scrypt on Node, PBKDF2 on Workers
 * (docs/tenancy-and-security.md#password-storage), unless PASSWORD_HASH_SCHEME says otherwise.
 */
export function passwordSchemeOf(c: Context<AppEnv>): PasswordScheme {
  const { config, runtime } = c.get('services');
  return config.PASSWORD_HASH_SCHEME ?? (runtime === 'node' ? 'scrypt' : 'pbkdf2-sha256');
}

/** The nil UUID: the failure recorder's target when no user matched, so both paths do the same work. */
const NOBODY = '00000000-0000-0000-0000-000000000000';

/**
 * Checks an email and password for the request's tenant. Returns the user with the login
 * recorded (counter reset, last_login_at, hash upgraded) in the request's transaction, or
 * null for any failure — unknown email, wrong password, disabled or locked account — after
 * the failure has been counted in a transaction that commits despite the 401 (see
 * `recordFailure`).
 */
export async function checkCredentials(
  c: Context<AppEnv>,
  email: string,
  password: string,
): Promise<AuthenticatedUser | null> {
  const tx = c.get('tx');
  const [user] = await tx
    .select({
      id: t.users.id,
      email: t.users.email,
      firstName: t.users.firstName,
      lastName: t.users.lastName,
      status: t.users.status,
      passwordHash: t.users.passwordHash,
      lockedUntil: t.users.lockedUntil,
    })
    .from(t.users)
    .where(and(sql`lower(${t.users.email}) = lower(${email})`, isNull(t.users.deletedAt)))
    .limit(1);

  // Always pay for one full verification, whatever the outcome will be.
  const scheme = passwordSchemeOf(c);
  const stored = user?.passwordHash ?? (await dummy(scheme));
  const matches = await verifyPassword(password, stored);
  const locked = !!user?.lockedUntil && user.lockedUntil.getTime() > Date.now();

  if (user && matches && user.status === 'active' && !locked) {
    const newHash = needsRehash(stored) ? await hashPassword(password, scheme) : null;
    const secondFactor = await secondFactorOf(tx, user.id);
    const complete = secondFactor === 'none';
    // The lock is checked again in the UPDATE itself: a lock set by a concurrent failure
    // after our read must still win (READ COMMITTED re-evaluates the WHERE on the new row).
    const [done] = await tx
      .update(t.users)
      .set({
        ...(complete ? { failedLoginCount: 0, lockedUntil: null, lastLoginAt: sql`now()` } : {}),
        ...(newHash ? { passwordHash: newHash } : {}),
        updatedAt: sql`now()`,
      })
      .where(
        and(
          eq(t.users.id, user.id),
          eq(t.users.status, 'active'),
          isNull(t.users.deletedAt),
          or(isNull(t.users.lockedUntil), lte(t.users.lockedUntil, sql`now()`)),
        ),
      )
      .returning({ lastLoginAt: t.users.lastLoginAt });
    if (done) {
      return {
        id: user.id,
        email: user.email,
        firstName: user.firstName,
        lastName: user.lastName,
        lastLoginAt: done.lastLoginAt ?? new Date(),
        rehashed: newHash !== null,
        secondFactor,
      };
    }
  }

  await recordFailure(c, user?.id ?? NOBODY);
  return null;
}

/**
 * Counts a failed login, and locks the account on the fifth consecutive one. The count is
 * committed although the request answers 401 (see commitDespiteRefusal).
 *
 * One UPDATE statement does the counting, so concurrent failures neither lose increments
 * nor race past the limit. Attempts during a lock are not counted (the lock is not
 * extended); the first failure after a lock has expired starts a fresh count. An unknown
 * email runs the same statement against no row, so it costs the same as a known one.
 */
export async function recordFailure(c: Context<AppEnv>, userId: string): Promise<void> {
  const services = c.get('services');
  await commitDespiteRefusal(c, async (tx) => {
    const expired = sql`(${t.users.lockedUntil} is not null and ${t.users.lockedUntil} <= now())`;
    const next = sql`(case when ${expired} then 1 else ${t.users.failedLoginCount} + 1 end)`;
    const [row] = await tx
      .update(t.users)
      .set({
        failedLoginCount: next,
        lockedUntil: sql`case
          when ${next} >= ${MAX_FAILED_LOGINS} then now() + make_interval(secs => ${LOCK_SECONDS})
          when ${expired} then null
          else ${t.users.lockedUntil} end`,
      })
      .where(
        and(
          eq(t.users.id, userId),
          or(isNull(t.users.lockedUntil), lte(t.users.lockedUntil, sql`now()`)),
        ),
      )
      .returning({
        failedLoginCount: t.users.failedLoginCount,
        lockedUntil: t.users.lockedUntil,
      });
    if (row?.lockedUntil) {
      await recordAuthEvent(tx, c, {
        action: 'auth.lockout',
        entityType: 'user',
        entityId: userId,
        actorUserId: null,
        after: {
          failed_login_count: row.failedLoginCount,
          locked_until: row.lockedUntil.toISOString(),
        },
      });
      services.log.warn('account locked after repeated failed logins', {
        request_id: c.get('requestId'),
        tenant: c.get('tenant').id,
        user_id: userId,
      });
    }
  });
}
