import type { Context } from 'hono';
import type { AppEnv } from '../app-env.js';
import { issueChallenge, type SecondFactor } from './mfa.js';
import { recordAuthEvent, startApiSession } from './sessions.js';

/**
 * The last step of an API sign-in once the password is proven (login, or an accepted
 * invitation): a token pair, or — for a user with an authenticator, or holding a role the
 * tenant requires one of — an MFA challenge instead, audited either way.
 */
export async function finishApiSignIn(
  c: Context<AppEnv>,
  user: { id: string; secondFactor: SecondFactor },
  after: Record<string, unknown>,
) {
  c.header('cache-control', 'no-store');
  if (user.secondFactor !== 'none') {
    const challenge = await issueChallenge(c, user.id, user.secondFactor);
    await recordAuthEvent(c.get('tx'), c, {
      action: 'auth.mfa_challenge',
      entityType: 'user',
      entityId: user.id,
      actorUserId: user.id,
      after: { ...after, mfa: user.secondFactor },
    });
    return { mfa_required: user.secondFactor, ...challenge };
  }
  const pair = await startApiSession(c, user.id);
  await recordAuthEvent(c.get('tx'), c, {
    action: 'auth.login',
    entityType: 'user',
    entityId: user.id,
    actorUserId: user.id,
    after,
  });
  return pair;
}
