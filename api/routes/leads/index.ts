import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerListLeads } from './list.js';

/** Admissions leads for staff. */
export function registerLeadRoutes(app: OpenAPIHono<AppEnv>): void {
  registerListLeads(app);
}
