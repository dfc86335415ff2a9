import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerBrowserSession } from './browser-session.js';
import { registerLogin } from './login.js';
import { registerLogout } from './logout.js';
import { registerMe } from './me.js';
import { registerMfa } from './mfa.js';
import { registerMfaPages } from './mfa-pages.js';
import { registerRefresh } from './refresh.js';
import { registerSsoPages } from './sso-pages.js';
import { registerSsoRoutes } from './sso-routes.js';

/** Login, token refresh, logout, the current user and the browser /login page. */
export function registerAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  registerLogin(app);
  registerRefresh(app);
  registerLogout(app);
  registerMe(app);
  registerBrowserSession(app);
  registerMfa(app);
  registerMfaPages(app);
  registerSsoRoutes(app);
  registerSsoPages(app);
}
