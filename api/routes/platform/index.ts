import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerDomainRoutes } from './domains.js';
import { platformGuards } from './guard.js';
import { registerTenantRoutes } from './tenants.js';
import { registerUsageRoutes } from './usage.js';

/**
 * Platform administration on the control plane: only on the operator tenant's hosts
 * (config.PLATFORM_TENANT; elsewhere 404) and only for its `platform_admin` users.
 */
export function registerPlatformRoutes(app: OpenAPIHono<AppEnv>): void {
  app.use('/v1/platform/*', ...platformGuards());
  registerTenantRoutes(app);
  registerDomainRoutes(app);
  registerUsageRoutes(app);
}
