import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { recordAuthEvent, rotateRefreshToken } from '../../auth/sessions.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { RefreshRequest, TokenPair } from './schemas.js';

const route = createRoute({
  operationId: 'refreshTokens',
  method: 'post',
  path: '/v1/auth/refresh',
  tags: ['Auth'],
  summary: 'Exchange a refresh token for a new token pair',
  description:
    'Refresh tokens rotate: the one presented is spent and a new one returned. Presenting a spent token again revokes the whole session (it signals a stolen token).',
  security: [],
  request: {
    body: { required: true, content: { 'application/json': { schema: RefreshRequest } } },
  },
  responses: {
    200: { description: 'A new pair', content: { 'application/json': { schema: TokenPair } } },
    ...problemResponses(400, 401, 403, 404, 413),
  },
});

export function registerRefresh(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { refresh_token } = c.req.valid('json');
    const outcome = await rotateRefreshToken(c, refresh_token);
    if (!outcome.ok) {
      throw new ApiError('unauthenticated', 'The refresh token is invalid, expired or revoked.');
    }
    await recordAuthEvent(c.get('tx'), c, {
      action: 'auth.refresh',
      entityType: 'session',
      entityId: outcome.sid,
      actorUserId: outcome.userId,
    });
    c.header('cache-control', 'no-store');
    return c.json(outcome.pair, 200);
  });
}
