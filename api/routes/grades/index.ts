import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerAssignments } from './assignments.js';
import { registerCompleteEnrollment } from './complete.js';
import { registerGradebook } from './gradebook.js';
import { registerScores } from './scores.js';
import { registerStudentGrades } from './student-grades.js';

/** Grades: assignments, bulk score entry, gradebooks, a student's grades, final grades. */
export function registerGradeRoutes(app: OpenAPIHono<AppEnv>): void {
  registerAssignments(app);
  registerScores(app);
  registerGradebook(app);
  registerStudentGrades(app);
  registerCompleteEnrollment(app);
}
