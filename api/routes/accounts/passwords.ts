import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { acceptInvitation } from '../../accounts/invitations.js';
import { deliverAfterCommit, linkOrigin, senderOf } from '../../accounts/mail.js';
import {
  changePassword,
  completePasswordReset,
  notifyPasswordChanged,
  requestPasswordReset,
} from '../../accounts/passwords.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { authenticate } from '../../auth/middleware.js';
import { hashToken, recordAuthEvent } from '../../auth/sessions.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { LoginResult } from '../auth/mfa-schemas.js';
import { secondFactorOf } from '../../auth/mfa.js';
import { finishApiSignIn } from '../../auth/sign-in.js';

/**
 * Password reset and change, and accepting an invitation, for API clients
 * (docs/tenancy-and-security.md#password-reset-and-change). The browser forms (pages.ts) call the same
 * domain functions.
 */

type Ctx = Context<AppEnv>;
const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

/** The one answer to every reset request, whether or not an account uses the address. */
export const RESET_REQUESTED =
  'If an account uses this address, a link to reset its password is on its way. It works once, for 30 minutes.';

const ForgotRequest = z
  .object({ email: z.string().trim().min(3).max(320).openapi({ example: 'parent@example.org' }) })
  .openapi('PasswordForgotRequest');
const Accepted = z
  .object({ status: z.literal('accepted'), detail: z.string() })
  .openapi('Accepted');
const ResetRequest = z
  .object({
    token: z.string().min(16).max(256).describe('The token of the reset link.'),
    password: z.string().min(1).max(1024),
  })
  .openapi('PasswordResetRequest');
const ChangeRequest = z
  .object({
    current_password: z.string().min(1).max(1024),
    new_password: z.string().min(1).max(1024),
  })
  .openapi('PasswordChangeRequest');
const AcceptRequest = z
  .object({
    token: z.string().min(16).max(256).describe('The token of the invitation link.'),
    password: z.string().min(1).max(1024),
  })
  .openapi('InvitationAcceptRequest');

const invalid = (name: string, reason: string, detail = 'See invalid_params for what to fix.') =>
  new ApiError('validation_failed', detail, { invalidParams: [{ name, reason }] });

/**
 * Counts a reset request against the per-address limit (the per-IP one is a route policy in
 * api/middleware/rate-limit.ts). The key is the address as given, known or not, so the 429
 * tells nothing about accounts either.
 */
export async function limitResetsPerAddress(c: Ctx, email: string): Promise<void> {
  const { config, limiter, log } = c.get('services');
  const key = `pwreset:${c.get('tenant').id}:${await hashToken(email.trim().toLowerCase())}`;
  const decision = await limiter.hit(key, config.PASSWORD_RESET_EMAIL_LIMIT, 3_600_000);
  if (!decision.allowed) {
    log.count('rate_limited');
    throw new ApiError('rate_limited', `Try again in ${decision.resetSeconds} seconds.`, {
      headers: { 'Retry-After': String(decision.resetSeconds) },
    });
  }
}

/** Writes the reset (when the address is an active user's) and its audit row; same work either way. */
export async function startReset(c: Ctx, email: string): Promise<void> {
  const tenant = c.get('tenant');
  const started = await requestPasswordReset(c.get('tx'), {
    tenantId: tenant.id,
    email,
    sender: senderOf(tenant),
    origin: linkOrigin(c),
    timezone: tenant.timezone,
  });
  await recordAuthEvent(c.get('tx'), c, {
    action: 'auth.password_reset_request',
    entityType: 'user',
    entityId: started?.userId ?? '00000000-0000-0000-0000-000000000000',
    actorUserId: null,
    after: { known: started !== null },
  });
  if (started) deliverAfterCommit(c, [started.outboxId]);
}

/** Completes a reset and records it; the failure reason for the caller to render. */
export async function finishReset(c: Ctx, token: string, password: string) {
  const tenant = c.get('tenant');
  const outcome = await completePasswordReset(c.get('tx'), token, password);
  if (!outcome.ok) return outcome;
  await recordAuthEvent(c.get('tx'), c, {
    action: 'auth.password_reset',
    entityType: 'user',
    entityId: outcome.userId,
    actorUserId: null,
    after: { sessions_revoked: outcome.sessionsRevoked },
  });
  const notice = await notifyPasswordChanged(c.get('tx'), {
    tenantId: tenant.id,
    userId: outcome.userId,
    sender: senderOf(tenant),
    origin: linkOrigin(c),
    timezone: tenant.timezone,
  });
  if (notice) deliverAfterCommit(c, [notice]);
  return outcome;
}

export function registerPasswordRoutes(app: OpenAPIHono<AppEnv>): void {
  registerRequestReset(app);
  registerResetPassword(app);
  registerChangePassword(app);
  registerAcceptInvitation(app);
}

/** POST /v1/auth/password/forgot: mail a reset link. */
function registerRequestReset(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'requestPasswordReset',
      method: 'post',
      path: '/v1/auth/password/forgot',
      tags: ['Auth'],
      summary: 'Mail a password-reset link',
      description:
        'Always 202 with the same body, whether or not an account uses the address (no account enumeration); the mail is delivered after the response. Limited per client IP (`PASSWORD_RESET_RATE_LIMIT` a minute) and per address (`PASSWORD_RESET_EMAIL_LIMIT` an hour): 429.',
      security: [],
      request: { body: { required: true, content: json(ForgotRequest) } },
      responses: {
        202: { description: 'Accepted', content: json(Accepted) },
        ...problemResponses(400, 404, 413, 429),
      },
    }),
    async (c) => {
      const { email } = c.req.valid('json');
      await limitResetsPerAddress(c, email);
      await startReset(c, email);
      c.header('cache-control', 'no-store');
      return c.json({ status: 'accepted' as const, detail: RESET_REQUESTED }, 202);
    },
  );
}

/** POST /v1/auth/password/reset: set a new password with a reset token. */
function registerResetPassword(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'resetPassword',
      method: 'post',
      path: '/v1/auth/password/reset',
      tags: ['Auth'],
      summary: 'Set a new password with a reset token',
      description:
        'The token works once, for 30 minutes. Success signs the user out everywhere: every session and refresh token is revoked, and a lockout is lifted.',
      security: [],
      request: { body: { required: true, content: json(ResetRequest) } },
      responses: {
        204: { description: 'Password changed' },
        ...problemResponses(400, 404, 413, 429),
      },
    }),
    async (c) => {
      const { token, password } = c.req.valid('json');
      const outcome = await finishReset(c, token, password);
      if (!outcome.ok) {
        if (outcome.reason === 'invalid')
          throw invalid(
            'json.token',
            'is unknown, used or expired',
            'The reset link is no longer valid.',
          );
        throw invalid(
          'json.password',
          outcome.detail.replace(/^The password /, '').replace(/\.$/, ''),
        );
      }
      c.header('cache-control', 'no-store');
      return c.body(null, 204);
    },
  );
}

/** POST /v1/auth/password/change: change your own password. */
function registerChangePassword(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'changePassword',
      method: 'post',
      path: '/v1/auth/password/change',
      tags: ['Auth'],
      summary: 'Change your own password',
      description:
        'Needs the current password. Every other session of the user is signed out; this one stays.',
      middleware: [authenticate()],
      request: { body: { required: true, content: json(ChangeRequest) } },
      responses: {
        204: { description: 'Password changed' },
        ...problemResponses(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const tenant = c.get('tenant');
      const outcome = await changePassword(c.get('tx'), {
        userId: principal.userId,
        sessionId: principal.sessionId,
        current: body.current_password,
        next: body.new_password,
      });
      if (!outcome.ok) {
        if (outcome.reason === 'wrong_password')
          throw invalid('json.current_password', 'is incorrect');
        throw invalid(
          'json.new_password',
          outcome.detail.replace(/^The (new )?password /, '').replace(/\.$/, ''),
        );
      }
      await audit(c, {
        action: 'auth.password_change',
        entityType: 'user',
        entityId: principal.userId,
        after: { sessions_revoked: outcome.sessionsRevoked },
      });
      const notice = await notifyPasswordChanged(c.get('tx'), {
        tenantId: tenant.id,
        userId: principal.userId,
        sender: senderOf(tenant),
        origin: linkOrigin(c),
        timezone: tenant.timezone,
      });
      if (notice) deliverAfterCommit(c, [notice]);
      return c.body(null, 204);
    },
  );
}

/** POST /v1/auth/invitations/accept: set the password and sign in. */
function registerAcceptInvitation(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'acceptInvitation',
      method: 'post',
      path: '/v1/auth/invitations/accept',
      tags: ['Auth'],
      summary: 'Accept an invitation: set the password and sign in',
      description:
        'The token of the invitation link works once, until it expires, is re-sent or is revoked. Returns what login returns: a token pair, or an `MfaChallenge` when the user must use (or set up) a second factor.',
      security: [],
      request: { body: { required: true, content: json(AcceptRequest) } },
      responses: {
        200: { description: 'Signed in, or a second factor is needed', content: json(LoginResult) },
        ...problemResponses(400, 404, 413, 429),
      },
    }),
    async (c) => {
      const { token, password } = c.req.valid('json');
      const outcome = await acceptInvitation(c.get('tx'), token, password);
      if (!outcome.ok) {
        if (outcome.reason === 'invalid')
          throw invalid(
            'json.token',
            'is unknown, used, revoked or expired',
            'The invitation link is no longer valid.',
          );
        throw invalid(
          'json.password',
          (outcome.detail ?? '').replace(/^The password /, '').replace(/\.$/, ''),
        );
      }
      await recordAuthEvent(c.get('tx'), c, {
        action: 'invitation.accept',
        entityType: 'invitation',
        entityId: outcome.invitationId,
        actorUserId: outcome.userId,
        after: { user_id: outcome.userId, via: 'token' },
      });
      const user = {
        id: outcome.userId,
        secondFactor: await secondFactorOf(c.get('tx'), outcome.userId),
      };
      return c.json(await finishApiSignIn(c, user, { via: 'invitation' }), 200);
    },
  );
}
