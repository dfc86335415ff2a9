import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.js';
import { registerAcademicRoutes } from './academic/index.js';
import { registerAccountRoutes } from './accounts/index.js';
import { registerAttendanceRoutes } from './attendance/index.js';
import { registerAuthRoutes } from './auth/index.js';
import { registerDashboardRoutes } from './dashboards/index.js';
import { registerDocs } from './docs.js';
import { registerEsaRoutes } from './esa/index.js';
import { registerFinanceRoutes } from './finance/index.js';
import { registerGradeRoutes } from './grades/index.js';
import { registerImportRoutes } from './imports/index.js';
import { registerLeadRoutes } from './leads/index.js';
import { registerMetricRoutes } from './metrics/index.js';
import { registerOrgRoutes } from './org/index.js';
import { registerPeopleRoutes } from './people/index.js';
import { registerPlatformRoutes } from './platform/index.js';
import { registerPublicRoutes } from './public/index.js';

/** Every route module, registered on the app. Resource modules add themselves here. */
export function registerRoutes(app: OpenAPIHono<AppEnv>): void {
  registerPublicRoutes(app);
  registerAuthRoutes(app);
  registerAccountRoutes(app);
  registerPlatformRoutes(app);
  registerLeadRoutes(app);
  registerPeopleRoutes(app);
  registerOrgRoutes(app);
  registerAcademicRoutes(app);
  registerGradeRoutes(app);
  registerAttendanceRoutes(app);
  registerFinanceRoutes(app);
  registerEsaRoutes(app);
  registerImportRoutes(app);
  registerMetricRoutes(app);
  registerDashboardRoutes(app);
  registerDocs(app);
}
