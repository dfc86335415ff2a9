import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { STUDENT_STATUSES } from '../../../db/schema/people.js';
import type { AppEnv } from '../../app-env.js';
import { studentRules } from '../../auth/scope.js';
import { rowsOf } from '../../../db/connection.js';
import { audit } from '../../audit.js';
import { registerResource, type ResourceDef } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { scoped } from '../../resources/scopes.js';
import { literalPrefix } from '../../resources/sql.js';

const name = z.string().trim().min(1).max(100);
const optionalText = (max: number) => z.string().trim().min(1).max(max).nullable().optional();

const Student = z
  .object({
    id: z.uuid(),
    user_id: z.uuid().nullable(),
    student_number: z.string(),
    first_name: z.string(),
    middle_name: z.string().nullable(),
    last_name: z.string(),
    preferred_name: z.string().nullable(),
    date_of_birth: z.string().nullable().describe('YYYY-MM-DD'),
    gender: z.string().nullable(),
    grade_level: z.string(),
    school_id: z.uuid(),
    status: z.enum(STUDENT_STATUSES),
    iep: z.boolean(),
    section_504: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Student');

const StudentCreate = z
  .object({
    student_number: z.string().trim().min(1).max(64),
    first_name: name,
    middle_name: optionalText(100),
    last_name: name,
    preferred_name: optionalText(100),
    date_of_birth: z.iso.date().nullable().optional(),
    gender: optionalText(40),
    grade_level: z.string().trim().min(1).max(16),
    school_id: z.uuid(),
    status: z.enum(STUDENT_STATUSES).optional(),
    iep: z.boolean().optional(),
    section_504: z.boolean().optional(),
    user_id: z.uuid().nullable().optional(),
  })
  .openapi('StudentCreate');

const StudentUpdate = StudentCreate.partial().openapi('StudentUpdate');

const StudentFilters = z.object({
  school_id: z.uuid().optional(),
  grade_level: z.string().max(16).optional(),
  status: z.enum(STUDENT_STATUSES).optional(),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .openapi({ description: 'Prefix of a first, last or preferred name, or the student number.' }),
});

const permissions = { read: 'students.read', write: 'students.write' };

/** Students are scoped by relationship: the school's staff, the class's teachers, the family. */
export const studentScope = scoped(permissions, studentRules(t.students.id, t.students.schoolId));

export const studentResource: ResourceDef<
  typeof StudentCreate,
  typeof StudentUpdate,
  typeof StudentFilters
> = {
  entity: 'student',
  path: '/v1/students',
  tag: 'Students',
  plural: 'students',
  table: t.students,
  permissions,
  schemas: { out: Student, create: StudentCreate, update: StudentUpdate, filters: StudentFilters },
  scope: studentScope,
  order: { column: t.students.lastName, direction: 'asc' },
  filters: (q) => {
    const s = t.students;
    const prefix = q.q ? literalPrefix(q.q) : null;
    return [
      q.school_id ? eq(s.schoolId, q.school_id) : undefined,
      q.grade_level ? eq(s.gradeLevel, q.grade_level) : undefined,
      q.status ? eq(s.status, q.status) : undefined,
      prefix
        ? sql`(${s.firstName} ilike ${prefix} or ${s.lastName} ilike ${prefix} or ${s.preferredName} ilike ${prefix} or ${s.studentNumber} ilike ${prefix})`
        : undefined,
    ];
  },
  // FERPA: every student record shown is logged, one row per student
  // (docs/tenancy-and-security.md#audit-and-the-ferpa-access-log).
  onRead: (c, rows, kind) =>
    logRecordAccess(
      c,
      rows.map((r) => String(r.id)),
      kind,
    ),
  // A deleted student is in no figure: their open school enrolments end with the delete
  // (today in the school's time zone, or the entry date when that is later), each audited.
  beforeDelete: async (c, row) => {
    const ended = rowsOf<{ id: string; exit_date: string; status: string }>(
      await c.get('tx').execute(sql`
        update school_enrollments se
           set exit_date = greatest(se.entry_date,
                 (now() at time zone coalesce(o.timezone, ${c.get('tenant').timezone}))::date),
               status = 'withdrawn', exit_reason = 'student deleted'
          from org_units o
         where o.id = se.school_id and se.student_id = ${String(row.id)}::uuid
           and se.deleted_at is null and se.exit_date is null
        returning se.id::text as id, se.exit_date::text as exit_date, se.status`),
    );
    for (const e of ended)
      await audit(c, {
        action: 'school_enrollment.update',
        entityType: 'school_enrollment',
        entityId: e.id,
        before: { exit_date: null },
        after: { exit_date: e.exit_date, status: e.status, reason: 'student deleted' },
      });
  },
  descriptions: {
    delete:
      'Soft delete: the record is kept, marked deleted. The student’s open school enrolments end today (each audited), and the student is in no metric.',
    list: 'Students within the caller’s scope: their school(s) for staff, their classes’ students for teachers, their own children for parents, themself for a student. Each student listed is recorded in the record-access log.',
    read: 'Recorded in the record-access log.',
    create:
      'The student number is unique in the tenant (409). The school must be within the caller’s reach.',
  },
};

export function registerStudents(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, studentResource);
}
