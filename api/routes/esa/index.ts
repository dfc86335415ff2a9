import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerApplications } from './applications.js';
import { registerDisbursements } from './disbursements.js';

/** ESA applications with their status transitions, awards and disbursements. */
export function registerEsaRoutes(app: OpenAPIHono<AppEnv>): void {
  registerApplications(app);
  registerDisbursements(app);
}
