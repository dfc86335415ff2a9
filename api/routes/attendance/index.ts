import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerMissing } from './missing.js';
import { registerRoster } from './roster.js';
import { registerStudentAttendance } from './student.js';
import { registerUpsert } from './upsert.js';

/** Attendance: taking it for a class or a school day, rosters, a student's record, gaps. */
export function registerAttendanceRoutes(app: OpenAPIHono<AppEnv>): void {
  registerMissing(app);
  registerRoster(app);
  registerUpsert(app);
  registerStudentAttendance(app);
}
