import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { authenticate } from '../../auth/middleware.js';
import { revokeSession } from '../../auth/sessions.js';
import { problemResponses } from '../openapi.js';

const route = createRoute({
  operationId: 'logout',
  method: 'post',
  path: '/v1/auth/logout',
  tags: ['Auth'],
  summary: 'End the session of the bearer token',
  description:
    'Revokes the session: its access tokens and refresh tokens stop working immediately.',
  middleware: [authenticate()],
  responses: {
    204: { description: 'Signed out' },
    ...problemResponses(401, 403, 404),
  },
});

export function registerLogout(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const principal = c.get('principal');
    await revokeSession(c.get('tx'), principal.sessionId);
    await audit(c, {
      action: 'auth.logout',
      entityType: 'session',
      entityId: principal.sessionId,
      after: { via: principal.via },
    });
    return c.body(null, 204);
  });
}
