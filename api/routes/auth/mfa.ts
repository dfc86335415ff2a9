import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import type { Context } from 'hono';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { recordFailure } from '../../auth/credentials.js';
import { authenticate, requirePermission } from '../../auth/middleware.js';
import {
  checkSecondFactor,
  completeSignIn,
  confirmEnrolment,
  mfaRequiredRoles,
  readChallenge,
  resetSecondFactor,
  setMfaRequiredRoles,
  startEnrolment,
} from '../../auth/mfa.js';
import { recordAuthEvent, startApiSession } from '../../auth/sessions.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import {
  AuthPolicy,
  MfaConfirmed,
  MfaConfirmRequest,
  MfaEnrolment,
  MfaEnrolmentRequest,
  MfaVerifyRequest,
} from './mfa-schemas.js';
import { TokenPair } from './schemas.js';

/**
 * Two-factor sign-in over the API (docs/tenancy-and-security.md#two-factor-sign-in):
 * completing a login's challenge, enrolling an authenticator (during a login the tenant's
 * policy demands it, or later with a bearer token), the tenant's policy, and an
 * administrator's reset of a user's authenticator.
 */

const WRONG_CODE = 'The code is incorrect or was already used, or the account is locked.';

const verifyRoute = createRoute({
  operationId: 'verifyMfa',
  method: 'post',
  path: '/v1/auth/mfa/verify',
  tags: ['Auth'],
  summary: 'Complete a login with a TOTP code or a recovery code',
  description:
    'Exchanges the challenge token from login and a code for a token pair. A code is accepted once (a replay within its 30-second step is refused); each recovery code works once. Wrong codes count toward the same lockout as wrong passwords.',
  security: [],
  request: {
    body: { required: true, content: { 'application/json': { schema: MfaVerifyRequest } } },
  },
  responses: {
    200: { description: 'Signed in', content: { 'application/json': { schema: TokenPair } } },
    ...problemResponses(400, 401, 403, 404, 413, 429),
  },
});

const enrolRoute = createRoute({
  operationId: 'startMfaEnrolment',
  method: 'post',
  path: '/v1/auth/mfa/enrolment',
  tags: ['Auth'],
  summary: 'Start setting up an authenticator app',
  description:
    'Returns a new TOTP secret with its `otpauth://` URI and QR code (SVG). Call with a bearer token, or with the challenge token of a login that answered `mfa_required: "enrol"`. Nothing changes until /v1/auth/mfa/enrolment/confirm proves a first code.',
  security: [{ bearer: [] }, {}] as Record<string, string[]>[],
  request: {
    body: { required: false, content: { 'application/json': { schema: MfaEnrolmentRequest } } },
  },
  responses: {
    200: {
      description: 'A pending authenticator',
      content: { 'application/json': { schema: MfaEnrolment } },
    },
    ...problemResponses(400, 401, 403, 404, 409, 413, 429),
  },
});

const confirmRoute = createRoute({
  operationId: 'confirmMfaEnrolment',
  method: 'post',
  path: '/v1/auth/mfa/enrolment/confirm',
  tags: ['Auth'],
  summary: 'Finish setting up an authenticator with its first code',
  description:
    'Activates the authenticator and returns ten recovery codes (shown once). With a challenge token the login completes and a token pair is returned too.',
  security: [{ bearer: [] }, {}] as Record<string, string[]>[],
  request: {
    body: { required: true, content: { 'application/json': { schema: MfaConfirmRequest } } },
  },
  responses: {
    200: {
      description: 'Two-factor sign-in is on',
      content: { 'application/json': { schema: MfaConfirmed } },
    },
    ...problemResponses(400, 401, 403, 404, 413, 429),
  },
});

const getPolicyRoute = createRoute({
  operationId: 'getAuthPolicy',
  method: 'get',
  path: '/v1/auth/policy',
  tags: ['Auth'],
  summary: "The tenant's sign-in policy",
  description:
    'Which roles must use two-factor sign-in. Tenant administrators only (`roles.write`). Without a stored policy the default applies: platform and network admins and principals.',
  middleware: [authenticate(), requirePermission('roles.write')],
  responses: {
    200: { description: 'The policy', content: { 'application/json': { schema: AuthPolicy } } },
    ...problemResponses(401, 403, 404),
  },
});

const putPolicyRoute = createRoute({
  operationId: 'setAuthPolicy',
  method: 'put',
  path: '/v1/auth/policy',
  tags: ['Auth'],
  summary: "Set the tenant's sign-in policy",
  description:
    'Tenant administrators only (`roles.write`). Users of the named roles without an authenticator are sent to set one up at their next sign-in.',
  middleware: [authenticate(), requirePermission('roles.write')],
  request: { body: { required: true, content: { 'application/json': { schema: AuthPolicy } } } },
  responses: {
    200: { description: 'The new policy', content: { 'application/json': { schema: AuthPolicy } } },
    ...problemResponses(400, 401, 403, 404, 413, 422),
  },
});

const resetRoute = createRoute({
  operationId: 'resetUserMfa',
  method: 'delete',
  path: '/v1/users/{id}/mfa',
  tags: ['Users'],
  summary: "Remove a user's authenticator and recovery codes",
  description:
    'For a user who lost their authenticator and recovery codes. Tenant administrators only (`roles.write`); the user sets up a new one at their next sign-in if their role requires it.',
  middleware: [authenticate(), requirePermission('roles.write')],
  request: { params: z.object({ id: z.uuid() }) },
  responses: {
    204: { description: 'Removed' },
    ...problemResponses(400, 401, 403, 404),
  },
});

/**
 * Whose enrolment this is: the bearer token's user, or the user of an `enrol` challenge
 * (a login the policy stopped). `viaChallenge` says whether confirming completes a login.
 */
async function enrollingUser(
  c: Context<AppEnv>,
  challengeToken: string | undefined,
): Promise<{ userId: string; viaChallenge: boolean }> {
  if (c.req.header('authorization')) {
    await authenticate()(c, async () => {});
    return { userId: c.get('principal').userId, viaChallenge: false };
  }
  if (!challengeToken) {
    throw new ApiError('unauthenticated', 'Send a bearer token or the challenge token of a login.');
  }
  return { userId: await readChallenge(c, challengeToken, 'enrol'), viaChallenge: true };
}

async function emailOf(c: Context<AppEnv>, userId: string): Promise<string> {
  const [user] = await c
    .get('tx')
    .select({ email: t.users.email })
    .from(t.users)
    .where(and(eq(t.users.id, userId), isNull(t.users.deletedAt)));
  if (!user)
    throw new ApiError('unauthenticated', 'The sign-in challenge is invalid or has expired.');
  return user.email;
}

export function registerMfa(app: OpenAPIHono<AppEnv>): void {
  registerVerify(app);
  registerStartEnrolment(app);
  registerConfirmEnrolment(app);
  registerGetPolicy(app);
  registerSetPolicy(app);
  registerResetUserMfa(app);
}

/** POST /v1/auth/mfa/verify: complete a login with a second factor. */
function registerVerify(app: OpenAPIHono<AppEnv>): void {
  app.openapi(verifyRoute, async (c) => {
    const body = c.req.valid('json');
    const userId = await readChallenge(c, body.challenge_token, 'verify');
    const used = await checkSecondFactor(
      c,
      userId,
      body.code !== undefined ? { code: body.code } : { recoveryCode: body.recovery_code! },
    );
    if (!used) {
      await recordFailure(c, userId);
      throw new ApiError('invalid_credentials', WRONG_CODE);
    }
    await completeSignIn(c.get('tx'), userId);
    c.header('cache-control', 'no-store');
    const pair = await startApiSession(c, userId);
    await recordAuthEvent(c.get('tx'), c, {
      action: 'auth.login',
      entityType: 'user',
      entityId: userId,
      actorUserId: userId,
      after: { via: 'token', mfa: used },
    });
    return c.json(pair, 200);
  });
}

/** POST /v1/auth/mfa/enrolment: start setting up an authenticator. */
function registerStartEnrolment(app: OpenAPIHono<AppEnv>): void {
  app.openapi(enrolRoute, async (c) => {
    const body = c.req.valid('json') ?? {};
    const { userId } = await enrollingUser(c, body.challenge_token);
    const enrolment = await startEnrolment(c, userId, {
      email: await emailOf(c, userId),
      issuer: `Homeroom (${c.get('tenant').name})`,
    });
    await recordAuthEvent(c.get('tx'), c, {
      action: 'auth.mfa_enrolment_started',
      entityType: 'user',
      entityId: userId,
      actorUserId: userId,
    });
    c.header('cache-control', 'no-store');
    return c.json(enrolment, 200);
  });
}

/** POST /v1/auth/mfa/enrolment/confirm: finish setting up an authenticator. */
function registerConfirmEnrolment(app: OpenAPIHono<AppEnv>): void {
  app.openapi(confirmRoute, async (c) => {
    const body = c.req.valid('json');
    const { userId, viaChallenge } = await enrollingUser(c, body.challenge_token);
    const codes = await confirmEnrolment(c, userId, body.code);
    if (!codes) {
      await recordFailure(c, userId);
      throw new ApiError('invalid_credentials', WRONG_CODE);
    }
    await recordAuthEvent(c.get('tx'), c, {
      action: 'auth.mfa_enrolled',
      entityType: 'user',
      entityId: userId,
      actorUserId: userId,
      after: { method: 'totp', recovery_codes: codes.length },
    });
    let tokens = null;
    if (viaChallenge) {
      await completeSignIn(c.get('tx'), userId);
      tokens = await startApiSession(c, userId);
      await recordAuthEvent(c.get('tx'), c, {
        action: 'auth.login',
        entityType: 'user',
        entityId: userId,
        actorUserId: userId,
        after: { via: 'token', mfa: 'enrolment' },
      });
    }
    c.header('cache-control', 'no-store');
    return c.json({ recovery_codes: codes, tokens }, 200);
  });
}

/** GET /v1/auth/policy. */
function registerGetPolicy(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getPolicyRoute, async (c) => {
    return c.json({ mfa_required_roles: await mfaRequiredRoles(c.get('tx')) }, 200);
  });
}

/** PUT /v1/auth/policy. */
function registerSetPolicy(app: OpenAPIHono<AppEnv>): void {
  app.openapi(putPolicyRoute, async (c) => {
    const { mfa_required_roles: roles } = c.req.valid('json');
    const tx = c.get('tx');
    const known = await tx
      .select({ key: t.roles.key })
      .from(t.roles)
      .where(isNull(t.roles.deletedAt));
    const keys = new Set(known.map((r) => r.key));
    const unknown = roles.filter((r) => !keys.has(r));
    if (unknown.length) {
      throw new ApiError('unprocessable', 'See invalid_params for what to fix.', {
        invalidParams: unknown.map((r) => ({
          name: 'json.mfa_required_roles',
          reason: `no role with key ${r}`,
        })),
      });
    }
    const { before, after } = await setMfaRequiredRoles(tx, c.get('tenant').id, roles);
    await audit(c, {
      action: 'auth_policy.update',
      entityType: 'auth_policy',
      entityId: c.get('tenant').id,
      before: { mfa_required_roles: before },
      after: { mfa_required_roles: after },
    });
    return c.json({ mfa_required_roles: after }, 200);
  });
}

/** DELETE /v1/users/{id}/mfa. */
function registerResetUserMfa(app: OpenAPIHono<AppEnv>): void {
  app.openapi(resetRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tx = c.get('tx');
    const [user] = await tx
      .select({ id: t.users.id })
      .from(t.users)
      .where(and(eq(t.users.id, id), isNull(t.users.deletedAt)));
    if (!user) throw new ApiError('not_found', 'No such user.');
    const removed = await resetSecondFactor(tx, id);
    await audit(c, {
      action: 'user.mfa_reset',
      entityType: 'user',
      entityId: id,
      after: { removed },
    });
    return c.body(null, 204);
  });
}
