import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { guardianRules, rowScope, studentRules } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import type { Tx } from '../../../db/connection.js';
import type { TenantSchema } from '../../../db/schema/types.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
} from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses } from '../openapi.js';
import { studentResource } from './students.js';

export const RELATIONSHIPS = [
  'mother',
  'father',
  'parent',
  'stepparent',
  'grandparent',
  'guardian',
  'foster_parent',
  'other',
] as const;

const Address = z.record(z.string().max(40), z.string().max(200)).nullable();

const Guardian = z
  .object({
    id: z.uuid(),
    user_id: z.uuid().nullable(),
    first_name: z.string(),
    last_name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    address: Address,
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Guardian');

const GuardianCreate = z
  .object({
    first_name: z.string().trim().min(1).max(100),
    last_name: z.string().trim().min(1).max(100),
    email: z.email().max(254).nullable().optional(),
    phone: z.string().trim().min(3).max(40).nullable().optional(),
    address: Address.optional(),
    user_id: z.uuid().nullable().optional(),
  })
  .openapi('GuardianCreate');

const GuardianUpdate = GuardianCreate.partial().openapi('GuardianUpdate');

const GuardianFilters = z.object({
  email: z.string().max(254).optional().openapi({ description: 'Exact email, any case.' }),
});

const permissions = { read: 'guardians.read', write: 'guardians.write' };

export const guardianResource: ResourceDef<
  typeof GuardianCreate,
  typeof GuardianUpdate,
  typeof GuardianFilters
> = {
  entity: 'guardian',
  path: '/v1/guardians',
  tag: 'Guardians',
  plural: 'guardians',
  table: t.guardians,
  permissions,
  schemas: {
    out: Guardian,
    create: GuardianCreate,
    update: GuardianUpdate,
    filters: GuardianFilters,
  },
  scope: scoped(permissions, guardianRules(t.guardians.id, t.guardians.userId)),
  order: { column: t.guardians.lastName, direction: 'asc' },
  filters: (q) => [q.email ? sql`lower(${t.guardians.email}) = lower(${q.email})` : undefined],
  descriptions: {
    list: 'Guardians of the students within the caller’s scope (and, for staff, guardians not yet linked to any student); a parent sees themself.',
  },
};

const Link = z
  .object({
    id: z.uuid(),
    student_id: z.uuid(),
    guardian_id: z.uuid(),
    relationship: z.enum(RELATIONSHIPS),
    is_primary: z.boolean(),
    can_pickup: z.boolean(),
    lives_with: z.boolean(),
    guardian: Guardian,
  })
  .openapi('StudentGuardian');

const LinkCreate = z
  .object({
    guardian_id: z.uuid(),
    relationship: z.enum(RELATIONSHIPS),
    is_primary: z.boolean().optional(),
    can_pickup: z.boolean().optional(),
    lives_with: z.boolean().optional(),
  })
  .openapi('StudentGuardianCreate');

const StudentParam = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'Student id.' }),
});
const LinkParam = StudentParam.extend({
  guardian_id: z
    .uuid()
    .openapi({ param: { name: 'guardian_id', in: 'path' }, description: 'Guardian id.' }),
});

const studentsFor = (permission: string) => ({
  table: t.students,
  scope: (c: Parameters<typeof studentResource.scope>[0]) =>
    rowScope(
      c.get('tx'),
      c.get('principal'),
      permission,
      studentRules(t.students.id, t.students.schoolId),
    ),
});

/** Guardian CRUD, and a student's guardian links under /v1/students/{id}/guardians. */
export function registerGuardians(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, guardianResource);
  registerListLinks(app);
  registerLink(app);
  registerUnlink(app);
}

const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

type GuardianRow = typeof t.guardians.$inferSelect;
type LinkRow = typeof t.studentGuardians.$inferSelect;

function registerListLinks(app: OpenAPIHono<AppEnv>): void {
  const route = createRoute({
    operationId: 'listStudentGuardians',
    method: 'get',
    path: '/v1/students/{id}/guardians',
    tags: ['Guardians'],
    summary: 'A student’s guardians',
    description: 'Recorded in the record-access log.',
    middleware: guarded('students.read', 'guardians.read'),
    request: { params: StudentParam },
    responses: {
      200: { description: 'The links', content: json(z.object({ data: z.array(Link) })) },
      ...problemResponses(400, 401, 403, 404),
    },
  });
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    await loadScoped(c, studentsFor('students.read'), id, 'read');
    const rows = await linksOf(c.get('tx'), id);
    await logRecordAccess(c, [id], 'read');
    const data = rows.map((r) => ({ ...linkJson(r.link), guardian: guardianJson(r.guardian) }));
    return c.json({ data }, 200);
  });
}

/** The student's live links with their live guardians, by the guardian's last name. */
function linksOf(tx: Tx<TenantSchema>, studentId: string) {
  return tx
    .select({ link: t.studentGuardians, guardian: t.guardians })
    .from(t.studentGuardians)
    .innerJoin(
      t.guardians,
      and(
        eq(t.guardians.tenantId, t.studentGuardians.tenantId),
        eq(t.guardians.id, t.studentGuardians.guardianId),
      ),
    )
    .where(
      and(
        eq(t.studentGuardians.studentId, studentId),
        isNull(t.studentGuardians.deletedAt),
        isNull(t.guardians.deletedAt),
      ),
    )
    .orderBy(t.guardians.lastName, t.guardians.id);
}

function registerLink(app: OpenAPIHono<AppEnv>): void {
  const route = createRoute({
    operationId: 'linkStudentGuardian',
    method: 'post',
    path: '/v1/students/{id}/guardians',
    tags: ['Guardians'],
    summary: 'Link a guardian to a student',
    middleware: guarded('guardians.write'),
    request: { params: StudentParam, body: { content: json(LinkCreate), required: true } },
    responses: {
      201: { description: 'The link', content: json(Link) },
      ...problemResponses(400, 401, 403, 404, 409, 422),
    },
  });
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await loadScoped(c, studentsFor('guardians.write'), id, 'write');
    const guardian = await linkableGuardian(c, body.guardian_id);
    const [link] = await mapDbErrors(() =>
      c
        .get('tx')
        .insert(t.studentGuardians)
        .values({
          tenantId: c.get('tenant').id,
          studentId: id,
          guardianId: body.guardian_id,
          relationship: body.relationship,
          isPrimary: body.is_primary ?? false,
          canPickup: body.can_pickup ?? true,
          livesWith: body.lives_with ?? true,
        })
        .returning(),
    );
    const after = linkJson(link!);
    await audit(c, {
      action: 'student_guardian.create',
      entityType: 'student_guardian',
      entityId: link!.id,
      after,
    });
    return c.json({ ...after, guardian: guardianJson(guardian) }, 201);
  });
}

/** The guardian to link, within the caller's write scope; none is a 422 on the body. */
function linkableGuardian(c: Ctx, guardianId: string): Promise<GuardianRow> {
  return loadScoped(
    c,
    { table: t.guardians, scope: guardianResource.scope },
    guardianId,
    'write',
  ).catch((err: unknown) => {
    if (err instanceof ApiError && err.code === 'not_found')
      throw new ApiError('unprocessable', 'No such guardian.', {
        invalidParams: [{ name: 'body.guardian_id', reason: 'no such guardian' }],
      });
    throw err;
  });
}

function registerUnlink(app: OpenAPIHono<AppEnv>): void {
  const route = createRoute({
    operationId: 'unlinkStudentGuardian',
    method: 'delete',
    path: '/v1/students/{id}/guardians/{guardian_id}',
    tags: ['Guardians'],
    summary: 'Unlink a guardian from a student',
    middleware: guarded('guardians.write'),
    request: { params: LinkParam },
    responses: { 204: { description: 'Unlinked' }, ...problemResponses(400, 401, 403, 404) },
  });
  app.openapi(route, async (c) => {
    const { id, guardian_id } = c.req.valid('param');
    await loadScoped(c, studentsFor('guardians.write'), id, 'write');
    const removed = await c
      .get('tx')
      .update(t.studentGuardians)
      .set({ deletedAt: new Date() })
      .where(
        and(
          eq(t.studentGuardians.studentId, id),
          eq(t.studentGuardians.guardianId, guardian_id),
          isNull(t.studentGuardians.deletedAt),
        ),
      )
      .returning({ id: t.studentGuardians.id });
    if (removed.length === 0) throw new ApiError('not_found');
    await audit(c, {
      action: 'student_guardian.delete',
      entityType: 'student_guardian',
      entityId: removed[0]!.id,
      before: { student_id: id, guardian_id },
    });
    return c.body(null, 204);
  });
}

/** A guardian as the API shows it (the `Guardian` schema). */
function guardianJson(g: GuardianRow): z.infer<typeof Guardian> {
  return {
    id: g.id,
    user_id: g.userId,
    first_name: g.firstName,
    last_name: g.lastName,
    email: g.email,
    phone: g.phone,
    // jsonb: the API writes it only through the `Address` schema.
    address: g.address as z.infer<typeof Address>,
    created_at: g.createdAt.toISOString(),
    updated_at: g.updatedAt.toISOString(),
  };
}

/** A link as the API shows it, without its guardian. */
function linkJson(link: LinkRow): Omit<z.infer<typeof Link>, 'guardian'> {
  return {
    id: link.id,
    student_id: link.studentId,
    guardian_id: link.guardianId,
    // The relationship column's check constraint holds it to RELATIONSHIPS.
    relationship: link.relationship as (typeof RELATIONSHIPS)[number],
    is_primary: link.isPrimary,
    can_pickup: link.canPickup,
    lives_with: link.livesWith,
  };
}
