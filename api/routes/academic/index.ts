import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerClasses } from './classes.js';
import { registerCourses } from './courses.js';
import { registerEnrollments } from './enrollments.js';
import { registerSchoolEnrollments } from './school-enrollments.js';

/** Academic rosters: courses, classes and their teachers, class and school enrollments. */
export function registerAcademicRoutes(app: OpenAPIHono<AppEnv>): void {
  registerCourses(app);
  registerClasses(app);
  registerEnrollments(app);
  registerSchoolEnrollments(app);
}
