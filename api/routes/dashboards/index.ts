import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerDashboardLists, registerDashboardRecords } from './lists.js';
import { registerDashboardPages } from './pages.js';

/** Leadership dashboards (HTML) published by the pipeline. */
export function registerDashboardRoutes(app: OpenAPIHono<AppEnv>): void {
  registerDashboardPages(app);
  registerDashboardLists(app);
  registerDashboardRecords(app);
  // A tenant's root in a browser leads to its dashboards (and from there to /login).
  app.get('/', (c) => c.redirect('/dashboards', 303));
}
