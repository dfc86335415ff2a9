import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerCalendars } from './calendars.js';
import { registerOrgUnits } from './org-units.js';
import { registerRoles } from './roles.js';
import { registerSessions } from './sessions.js';
import { registerUsers } from './users.js';

/** The organisation: org units, sessions, calendars, users and roles. */
export function registerOrgRoutes(app: OpenAPIHono<AppEnv>): void {
  registerOrgUnits(app);
  registerSessions(app);
  registerCalendars(app);
  registerUsers(app);
  registerRoles(app);
}
