import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerProfile } from './profile.js';

/** Public endpoints: no login; tenant and school come from the Host. */
export function registerPublicRoutes(app: OpenAPIHono<AppEnv>): void {
  registerProfile(app);
}
