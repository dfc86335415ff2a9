import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { CLASS_ENROLLMENT_STATUSES } from '../../../db/schema/academic.js';
import type { AppEnv } from '../../app-env.js';
import { classRules, studentRules } from '../../auth/scope.js';
import { registerResource, type ResourceDef } from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { scoped } from '../../resources/scopes.js';
import { studentScope } from '../people/students.js';
import { classScope } from './classes.js';
import { checkDates, checkReferences } from './refs.js';

const Enrollment = z
  .object({
    id: z.uuid(),
    class_id: z.uuid(),
    student_id: z.uuid(),
    status: z.enum(CLASS_ENROLLMENT_STATUSES),
    entry_date: z.string().describe('YYYY-MM-DD'),
    exit_date: z.string().nullable().describe('YYYY-MM-DD'),
    final_percent: z.number().nullable().describe('Read-only: set when the enrollment completes.'),
    final_grade: z.string().nullable().describe('Read-only.'),
    grade_points: z.number().nullable().describe('Read-only.'),
    credits_attempted: z.number().nullable().describe('Read-only.'),
    credits_earned: z.number().nullable().describe('Read-only.'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('ClassEnrollment');

const EnrollmentCreate = z
  .object({
    class_id: z.uuid(),
    student_id: z.uuid(),
    status: z.enum(CLASS_ENROLLMENT_STATUSES).optional(),
    entry_date: z.iso.date(),
    exit_date: z.iso.date().nullable().optional(),
  })
  .openapi('ClassEnrollmentCreate');

const EnrollmentUpdate = z
  .object({
    status: z.enum(CLASS_ENROLLMENT_STATUSES),
    entry_date: z.iso.date(),
    exit_date: z.iso.date().nullable(),
  })
  .partial()
  .openapi('ClassEnrollmentUpdate');

const EnrollmentFilters = z.object({
  class_id: z.uuid().optional(),
  student_id: z.uuid().optional(),
  status: z.enum(CLASS_ENROLLMENT_STATUSES).optional(),
});

const permissions = { read: 'enrollments.read', write: 'enrollments.write' };

const byClass = classRules(t.classEnrollments.classId);
const byStudent = studentRules(t.classEnrollments.studentId);

export const enrollmentResource: ResourceDef<
  typeof EnrollmentCreate,
  typeof EnrollmentUpdate,
  typeof EnrollmentFilters
> = {
  entity: 'class_enrollment',
  path: '/v1/enrollments',
  tag: 'Enrollments',
  plural: 'class enrollments',
  table: t.classEnrollments,
  permissions,
  schemas: {
    out: Enrollment,
    create: EnrollmentCreate,
    update: EnrollmentUpdate,
    filters: EnrollmentFilters,
  },
  // Org roles and teachers reach enrollments through the class (its school, their
  // classes); families only their own children's, never their classmates'.
  scope: scoped(permissions, {
    org: byClass.org,
    teacher: byClass.teacher,
    parent: byStudent.parent,
    student: byStudent.student,
  }),
  filters: (q) => [
    q.class_id ? eq(t.classEnrollments.classId, q.class_id) : undefined,
    q.student_id ? eq(t.classEnrollments.studentId, q.student_id) : undefined,
    q.status ? eq(t.classEnrollments.status, q.status) : undefined,
  ],
  prepareCreate: async (c, input) => {
    checkDates(input.entry_date, input.exit_date);
    await checkReferences(c, [
      {
        field: 'class_id',
        what: 'class',
        table: t.classes,
        id: input.class_id,
        scope: await classScope(c, 'read'),
      },
      {
        field: 'student_id',
        what: 'student',
        table: t.students,
        id: input.student_id,
        scope: await studentScope(c, 'read'),
      },
    ]);
    return jsonToValues(input, t.classEnrollments);
  },
  prepareUpdate: async (_c, input, before) => {
    checkDates(
      input.entry_date ?? before.entryDate,
      input.exit_date === undefined ? before.exitDate : input.exit_date,
    );
    return jsonToValues(input, t.classEnrollments);
  },
  // FERPA: an enrollment (with its final grade) is part of the student's record.
  onRead: (c, rows, kind) =>
    logRecordAccess(
      c,
      rows.map((r) => String(r.studentId)),
      kind,
    ),
  descriptions: {
    list: 'Class enrollments within the caller’s scope: their schools’ classes for staff, their own classes for teachers, their own children for parents. Each student listed is recorded in the record-access log.',
    read: 'Recorded in the record-access log. The final_* fields are read-only here.',
    create:
      'One enrollment per student and class (409). The class and the student must exist and be visible to the caller (422); the class’s school must be within the caller’s write reach (403). `exit_date` is on or after `entry_date` (422).',
    update:
      'Status and dates only; the class and student are fixed, the final_* fields are set on completion.',
  },
};

export function registerEnrollments(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, enrollmentResource);
}
