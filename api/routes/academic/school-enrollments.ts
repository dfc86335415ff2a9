import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { SCHOOL_ENROLLMENT_STATUSES } from '../../../db/schema/academic.js';
import type { AppEnv } from '../../app-env.js';
import { studentRules } from '../../auth/scope.js';
import { registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { scoped } from '../../resources/scopes.js';
import { studentScope } from '../people/students.js';
import { checkDates, checkReferences, isSchool } from './refs.js';

const SchoolEnrollment = z
  .object({
    id: z.uuid(),
    student_id: z.uuid(),
    school_id: z.uuid(),
    session_id: z.uuid(),
    grade_level: z.string(),
    status: z.enum(SCHOOL_ENROLLMENT_STATUSES),
    entry_date: z.string().describe('YYYY-MM-DD'),
    exit_date: z.string().nullable().describe('YYYY-MM-DD'),
    exit_reason: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('SchoolEnrollment');

const SchoolEnrollmentCreate = z
  .object({
    student_id: z.uuid(),
    school_id: z.uuid(),
    session_id: z.uuid(),
    grade_level: z.string().trim().min(1).max(16),
    status: z.enum(SCHOOL_ENROLLMENT_STATUSES).optional(),
    entry_date: z.iso.date(),
    exit_date: z.iso.date().nullable().optional(),
    exit_reason: z.string().trim().min(1).max(200).nullable().optional(),
  })
  .openapi('SchoolEnrollmentCreate');

const SchoolEnrollmentUpdate = SchoolEnrollmentCreate.omit({ student_id: true })
  .partial()
  .openapi('SchoolEnrollmentUpdate');

const SchoolEnrollmentFilters = z.object({
  school_id: z.uuid().optional(),
  session_id: z.uuid().optional(),
  student_id: z.uuid().optional(),
  status: z.enum(SCHOOL_ENROLLMENT_STATUSES).optional(),
});

const permissions = { read: 'enrollments.read', write: 'enrollments.write' };

type Refs = { student_id?: string; school_id?: string; session_id?: string };

async function checkSchoolEnrollmentReferences(c: Ctx, input: Refs) {
  await checkReferences(c, [
    {
      field: 'student_id',
      what: 'student',
      table: t.students,
      id: input.student_id,
      scope: input.student_id ? await studentScope(c, 'read') : undefined,
    },
    {
      field: 'school_id',
      what: 'school',
      table: t.orgUnits,
      id: input.school_id,
      scope: isSchool(),
    },
    { field: 'session_id', what: 'session', table: t.academicSessions, id: input.session_id },
  ]);
}

export const schoolEnrollmentResource: ResourceDef<
  typeof SchoolEnrollmentCreate,
  typeof SchoolEnrollmentUpdate,
  typeof SchoolEnrollmentFilters
> = {
  entity: 'school_enrollment',
  path: '/v1/school-enrollments',
  tag: 'Enrollments',
  plural: 'school enrollments',
  table: t.schoolEnrollments,
  permissions,
  schemas: {
    out: SchoolEnrollment,
    create: SchoolEnrollmentCreate,
    update: SchoolEnrollmentUpdate,
    filters: SchoolEnrollmentFilters,
  },
  // By the enrolling school for org roles; teachers and families through the student.
  scope: scoped(
    permissions,
    studentRules(t.schoolEnrollments.studentId, t.schoolEnrollments.schoolId),
  ),
  order: { column: t.schoolEnrollments.entryDate, direction: 'asc' },
  filters: (q) => {
    const s = t.schoolEnrollments;
    return [
      q.school_id ? eq(s.schoolId, q.school_id) : undefined,
      q.session_id ? eq(s.sessionId, q.session_id) : undefined,
      q.student_id ? eq(s.studentId, q.student_id) : undefined,
      q.status ? eq(s.status, q.status) : undefined,
    ];
  },
  prepareCreate: async (c, input) => {
    checkDates(input.entry_date, input.exit_date);
    await checkSchoolEnrollmentReferences(c, input);
    return jsonToValues(input, t.schoolEnrollments);
  },
  prepareUpdate: async (c, input, before) => {
    checkDates(
      input.entry_date ?? before.entryDate,
      input.exit_date === undefined ? before.exitDate : input.exit_date,
    );
    await checkSchoolEnrollmentReferences(c, input);
    return jsonToValues(input, t.schoolEnrollments);
  },
  onRead: (c, rows, kind) =>
    logRecordAccess(
      c,
      rows.map((r) => String(r.studentId)),
      kind,
    ),
  descriptions: {
    list: 'A student’s membership of a school for a session (the basis of attendance). Staff see their schools’ enrollments, teachers their students’, parents their children’s. Each student listed is recorded in the record-access log.',
    read: 'Recorded in the record-access log.',
    create:
      'Unique per student, school, session and entry date (409). The student, school and session must exist (422); the school must be within the caller’s write reach (403). `exit_date` is on or after `entry_date` (422).',
  },
};

export function registerSchoolEnrollments(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, schoolEnrollmentResource);
}
