import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.js';
import { registerPublicRoutes } from './public/index.js';

/** Every route module, registered on the app. Resource modules add themselves here. */
export function registerRoutes(app: OpenAPIHono<AppEnv>): void {
  registerPublicRoutes(app);
}
