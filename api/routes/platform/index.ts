import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';

/** Platform administration on the control plane (platform admins of the operator tenant). */
export function registerPlatformRoutes(app: OpenAPIHono<AppEnv>): void {
  void app;
}
