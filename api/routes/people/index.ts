import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerGuardians } from './guardians.js';
import { registerStaff } from './staff.js';
import { registerStudentRecords } from './student-records.js';
import { registerStudents } from './students.js';

/** People resources for staff and families: students, guardians, staff. */
export function registerPeopleRoutes(app: OpenAPIHono<AppEnv>): void {
  // Fixed sub-paths before `/{id}` routes that could shadow them.
  registerStudentRecords(app);
  registerStudents(app);
  registerGuardians(app);
  registerStaff(app);
}
