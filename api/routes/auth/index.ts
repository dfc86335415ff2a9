import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';

/** Login, token refresh, logout, the current user and the browser /login page. */
export function registerAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  void app;
}
