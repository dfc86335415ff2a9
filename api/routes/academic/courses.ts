import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { rowScope, withinReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';
import { literalPrefix } from '../../resources/sql.js';
import { checkReferences } from './refs.js';

const Course = z
  .object({
    id: z.uuid(),
    org_unit_id: z.uuid().nullable().describe('Owning org unit; null = the whole network.'),
    code: z.string(),
    name: z.string(),
    subject: z.string(),
    credits: z.number(),
    grade_levels: z.array(z.string()),
    description: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Course');

const CourseCreate = z
  .object({
    code: z.string().trim().min(1).max(32),
    name: z.string().trim().min(1).max(200),
    subject: z.string().trim().min(1).max(60),
    credits: z.number().min(0).max(99.99).optional(),
    grade_levels: z.array(z.string().trim().min(1).max(16)).max(20).optional(),
    description: z.string().trim().max(2000).nullable().optional(),
    org_unit_id: z.uuid().nullable().optional(),
  })
  .openapi('CourseCreate');

const CourseUpdate = CourseCreate.partial().openapi('CourseUpdate');

const CourseFilters = z.object({
  org_unit_id: z.uuid().optional(),
  subject: z.string().max(60).optional(),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .openapi({ description: 'Prefix of the code or the name.' }),
});

const permissions = { read: 'courses.read', write: 'courses.write' };

/**
 * The course catalog is not personal data: whoever may read courses sees all of them.
 * Writes stay within reach; a network-wide course (no org unit) needs tenant-wide reach.
 */
const scope = (c: Ctx, mode: 'read' | 'write') =>
  mode === 'read'
    ? Promise.resolve(undefined)
    : rowScope(c.get('tx'), c.get('principal'), permissions.write, {
        org: (reach) => withinReach(reach, t.courses.orgUnitId),
      });

const checkOrgUnit = (c: Ctx, id: string | null | undefined) =>
  checkReferences(c, [{ field: 'org_unit_id', what: 'org unit', table: t.orgUnits, id }]);

export const courseResource: ResourceDef<
  typeof CourseCreate,
  typeof CourseUpdate,
  typeof CourseFilters
> = {
  entity: 'course',
  path: '/v1/courses',
  tag: 'Courses',
  plural: 'courses',
  table: t.courses,
  permissions,
  schemas: { out: Course, create: CourseCreate, update: CourseUpdate, filters: CourseFilters },
  scope,
  order: { column: t.courses.code, direction: 'asc' },
  filters: (q) => {
    const prefix = q.q ? literalPrefix(q.q) : null;
    return [
      q.org_unit_id ? eq(t.courses.orgUnitId, q.org_unit_id) : undefined,
      q.subject ? eq(t.courses.subject, q.subject) : undefined,
      prefix
        ? sql`(${t.courses.code} ilike ${prefix} or ${t.courses.name} ilike ${prefix})`
        : undefined,
    ];
  },
  prepareCreate: async (c, input) => {
    await checkOrgUnit(c, input.org_unit_id);
    return jsonToValues(input, t.courses);
  },
  prepareUpdate: async (c, input) => {
    await checkOrgUnit(c, input.org_unit_id);
    return jsonToValues(input, t.courses);
  },
  beforeDelete: async (c, row) => {
    const [live] = await c
      .get('tx')
      .select({ id: t.classes.id })
      .from(t.classes)
      .where(and(eq(t.classes.courseId, String(row.id)), isNull(t.classes.deletedAt)))
      .limit(1);
    if (live) throw new ApiError('conflict', 'The course has classes; delete them first.');
  },
  descriptions: {
    list: 'The tenant’s course catalog, ordered by code.',
    create:
      'The code is unique in the tenant (409). `org_unit_id` must be within the caller’s reach; leave it empty for a network-wide course (tenant-wide reach only).',
    delete: 'Soft delete; a course with live classes answers 409.',
  },
};

export function registerCourses(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, courseResource);
}
