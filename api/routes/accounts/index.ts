import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerInvitations } from './invitations.js';
import { registerAccountPages } from './pages.js';
import { registerPasswordRoutes } from './passwords.js';

/** Invitations, password reset and change: the API routes and the browser forms. */
export function registerAccountRoutes(app: OpenAPIHono<AppEnv>): void {
  registerInvitations(app);
  registerPasswordRoutes(app);
  registerAccountPages(app);
}
