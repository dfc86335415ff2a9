import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { replaceClassTeachers } from '../../academic/class-teachers.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { classRules } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
} from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses } from '../openapi.js';
import { staffResource } from '../people/staff.js';
import { checkReferences, isSchool } from './refs.js';

const CLASS_STATUSES = ['active', 'cancelled', 'completed'] as const;
const TEACHER_ROLES = ['primary', 'co_teacher', 'aide'] as const;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM');
const Meeting = z
  .object({ day: z.enum(DAYS), start: time, end: time })
  .refine((m) => m.end > m.start, { path: ['end'], message: 'must be after start' })
  .openapi('ClassMeeting');

const ClassTeacher = z
  .object({
    staff_id: z.uuid(),
    role: z.enum(TEACHER_ROLES),
    first_name: z.string(),
    last_name: z.string(),
  })
  .openapi('ClassTeacher');

const Class = z
  .object({
    id: z.uuid(),
    course_id: z.uuid(),
    session_id: z.uuid(),
    school_id: z.uuid(),
    section: z.string(),
    name: z.string(),
    room: z.string().nullable(),
    schedule: z.array(Meeting).nullable(),
    capacity: z.number().int().nullable(),
    grading_scale_id: z.uuid().nullable(),
    status: z.enum(CLASS_STATUSES),
    teachers: z.array(ClassTeacher).describe('Set with `PUT /v1/classes/{id}/teachers`.'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Class');

const ClassCreate = z
  .object({
    course_id: z.uuid(),
    session_id: z.uuid(),
    school_id: z.uuid(),
    section: z.string().trim().min(1).max(32),
    name: z.string().trim().min(1).max(200),
    room: z.string().trim().min(1).max(60).nullable().optional(),
    schedule: z.array(Meeting).max(30).nullable().optional(),
    capacity: z.number().int().min(1).max(10_000).nullable().optional(),
    grading_scale_id: z.uuid().nullable().optional(),
    status: z.enum(CLASS_STATUSES).optional(),
  })
  .openapi('ClassCreate');

const ClassUpdate = ClassCreate.partial().openapi('ClassUpdate');

const ClassFilters = z.object({
  school_id: z.uuid().optional(),
  session_id: z.uuid().optional(),
  course_id: z.uuid().optional(),
  staff_id: z.uuid().optional().openapi({ description: 'Classes this staff member teaches.' }),
  status: z.enum(CLASS_STATUSES).optional(),
});

const permissions = { read: 'classes.read', write: 'classes.write' };

/** A teacher their own classes, a family their children's, org roles the classes of their schools. */
export const classScope = scoped(permissions, classRules(t.classes.id, t.classes.schoolId));

/** The references of a new or changed class must exist (422 for each that does not). */
function checkClassReferences(c: Ctx, input: Partial<z.infer<typeof ClassCreate>>) {
  return checkReferences(c, [
    { field: 'course_id', what: 'course', table: t.courses, id: input.course_id },
    { field: 'session_id', what: 'session', table: t.academicSessions, id: input.session_id },
    {
      field: 'school_id',
      what: 'school',
      table: t.orgUnits,
      id: input.school_id,
      scope: isSchool(),
    },
    {
      field: 'grading_scale_id',
      what: 'grading scale',
      table: t.gradingScales,
      id: input.grading_scale_id,
    },
  ]);
}

type TeacherJson = z.infer<typeof ClassTeacher>;

/** The live teachers of the classes, by class id. */
async function teachersOf(c: Ctx, classIds: string[]): Promise<Map<string, TeacherJson[]>> {
  const byClass = new Map<string, TeacherJson[]>(classIds.map((id) => [id, []]));
  if (classIds.length === 0) return byClass;
  const rows = await c
    .get('tx')
    .select({
      classId: t.classTeachers.classId,
      staffId: t.classTeachers.staffId,
      role: t.classTeachers.role,
      firstName: t.staff.firstName,
      lastName: t.staff.lastName,
    })
    .from(t.classTeachers)
    .innerJoin(
      t.staff,
      and(eq(t.staff.tenantId, t.classTeachers.tenantId), eq(t.staff.id, t.classTeachers.staffId)),
    )
    .where(and(inArray(t.classTeachers.classId, classIds), isNull(t.classTeachers.deletedAt)))
    .orderBy(asc(t.classTeachers.role), asc(t.staff.lastName), asc(t.staff.id));
  for (const r of rows)
    byClass.get(r.classId)?.push({
      staff_id: r.staffId,
      role: r.role as TeacherJson['role'],
      first_name: r.firstName,
      last_name: r.lastName,
    });
  return byClass;
}

export const classResource: ResourceDef<
  typeof ClassCreate,
  typeof ClassUpdate,
  typeof ClassFilters
> = {
  entity: 'class',
  path: '/v1/classes',
  tag: 'Classes',
  plural: 'classes',
  table: t.classes,
  permissions,
  schemas: { out: Class, create: ClassCreate, update: ClassUpdate, filters: ClassFilters },
  scope: classScope,
  order: { column: t.classes.name, direction: 'asc' },
  filters: (q) => [
    q.school_id ? eq(t.classes.schoolId, q.school_id) : undefined,
    q.session_id ? eq(t.classes.sessionId, q.session_id) : undefined,
    q.course_id ? eq(t.classes.courseId, q.course_id) : undefined,
    q.status ? eq(t.classes.status, q.status) : undefined,
    q.staff_id
      ? sql`${t.classes.id} in (select ct.class_id from class_teachers ct
          where ct.deleted_at is null and ct.staff_id = ${q.staff_id}::uuid)`
      : undefined,
  ],
  prepareCreate: async (c, input) => {
    await checkClassReferences(c, input);
    return jsonToValues(input, t.classes);
  },
  prepareUpdate: async (c, input) => {
    await checkClassReferences(c, input);
    return jsonToValues(input, t.classes);
  },
  decorate: async (c, rows) => {
    const teachers = await teachersOf(
      c,
      rows.map((r) => String(r.id)),
    );
    return rows.map((r) => ({ ...r, teachers: teachers.get(String(r.id)) ?? [] }));
  },
  beforeDelete: async (c, row) => {
    const [live] = await c
      .get('tx')
      .select({ id: t.classEnrollments.id })
      .from(t.classEnrollments)
      .where(
        and(eq(t.classEnrollments.classId, String(row.id)), isNull(t.classEnrollments.deletedAt)),
      )
      .limit(1);
    if (live) throw new ApiError('conflict', 'The class has enrollments; delete them first.');
  },
  descriptions: {
    list: 'Classes within the caller’s scope: their schools’ for staff, their own for teachers, their children’s for parents, their own for a student. Ordered by name.',
    create:
      'A section is unique per course, session and school (409). The course, session and school must exist (422); the school must be within the caller’s reach (403).',
    delete: 'Soft delete; a class with live enrollments answers 409.',
  },
};

const ClassParam = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'Class id.' }),
});

const TeacherSet = z
  .object({
    teachers: z
      .array(
        z.object({
          staff_id: z.uuid(),
          role: z.enum(TEACHER_ROLES).optional().describe('Default `primary`.'),
        }),
      )
      .max(20)
      .refine((ts) => new Set(ts.map((x) => x.staff_id)).size === ts.length, {
        message: 'each staff member at most once',
      }),
  })
  .openapi('ClassTeacherSet');

const TeacherList = z.object({ data: z.array(ClassTeacher) }).openapi('ClassTeacherList');

/** Class CRUD, and the class's teachers under /v1/classes/{id}/teachers. */
export function registerClasses(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, classResource);
  const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

  app.openapi(
    createRoute({
      operationId: 'listClassTeachers',
      method: 'get',
      path: '/v1/classes/{id}/teachers',
      tags: ['Classes'],
      summary: 'A class’s teachers',
      middleware: guarded(permissions.read),
      request: { params: ClassParam },
      responses: {
        200: { description: 'The teachers', content: json(TeacherList) },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await loadScoped(c, classResource, id, 'read');
      return c.json({ data: (await teachersOf(c, [id])).get(id) ?? [] }, 200);
    },
  );

  app.openapi(
    createRoute({
      operationId: 'setClassTeachers',
      method: 'put',
      path: '/v1/classes/{id}/teachers',
      tags: ['Classes'],
      summary: 'Replace a class’s teachers',
      description:
        'The body is the whole new set: teachers left out are removed, new ones added, roles changed. Each staff member must exist within the caller’s reach of staff records (422). Audited as `class_teacher.replace` with the sets before and after.',
      middleware: guarded(permissions.write),
      request: { params: ClassParam, body: { content: json(TeacherSet), required: true } },
      responses: {
        200: { description: 'The new set', content: json(TeacherList) },
        ...problemResponses(400, 401, 403, 404, 409, 413, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      await loadScoped(c, classResource, id, 'write', { lock: true });
      const staffScope = await staffResource.scope(c, 'read');
      await checkReferences(
        c,
        body.teachers.map((x, i) => ({
          field: `teachers.${i}.staff_id`,
          what: 'staff member',
          table: t.staff,
          id: x.staff_id,
          scope: staffScope,
        })),
      );
      const before = (await teachersOf(c, [id])).get(id) ?? [];
      await replaceClassTeachers(c.get('tx'), {
        tenantId: c.get('tenant').id,
        classId: id,
        teachers: body.teachers,
      });
      const after = (await teachersOf(c, [id])).get(id) ?? [];
      const brief = (ts: TeacherJson[]) => ts.map(({ staff_id, role }) => ({ staff_id, role }));
      await audit(c, {
        action: 'class_teacher.replace',
        entityType: 'class',
        entityId: id,
        before: { teachers: brief(before) },
        after: { teachers: brief(after) },
      });
      return c.json({ data: after }, 200);
    },
  );
}
