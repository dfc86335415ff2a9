import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { checkCredentials, INVALID_CREDENTIALS } from '../../auth/credentials.js';
import { finishApiSignIn } from '../../auth/sign-in.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { LoginResult } from './mfa-schemas.js';
import { LoginRequest } from './schemas.js';

const route = createRoute({
  operationId: 'login',
  method: 'post',
  path: '/v1/auth/login',
  tags: ['Auth'],
  summary: 'Sign in with email and password',
  description:
    'Returns a short-lived access token and a single-use refresh token — or, for a user with two-factor sign-in (or whose role the tenant requires it of), an `MfaChallenge` to complete at /v1/auth/mfa/verify or /v1/auth/mfa/enrolment. Every failure — unknown email, wrong password, disabled or locked account — is the same 401. Five consecutive failures lock the account for 15 minutes.',
  security: [],
  request: {
    body: { required: true, content: { 'application/json': { schema: LoginRequest } } },
  },
  responses: {
    200: {
      description: 'Signed in, or a second factor is needed',
      content: { 'application/json': { schema: LoginResult } },
    },
    ...problemResponses(400, 401, 403, 404, 413, 429),
  },
});

export function registerLogin(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { email, password } = c.req.valid('json');
    const user = await checkCredentials(c, email, password);
    if (!user) throw new ApiError('invalid_credentials', INVALID_CREDENTIALS);
    return c.json(
      await finishApiSignIn(c, user, { via: 'token', password_rehashed: user.rehashed }),
      200,
    );
  });
}
