import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ESA_APPLICATION_STATUSES, type EsaApplicationStatus } from '../../../db/schema/esa.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { RELATIONSHIP_ROLES, rowScope } from '../../auth/scope.js';
import { transitionApplication } from '../../esa/applications.js';
import { DECISIONS } from '../../esa/transitions.js';
import { MAX_CENTS } from '../../finance/ledger.js';
import { ApiError } from '../../problems.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
  type Row,
  idParam,
} from '../../resources/crud.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses } from '../openapi.js';
import { esaRules } from '../../esa/scope.js';

export const esaPermissions = { read: 'esa.read', write: 'esa.write' };

const Application = z
  .object({
    id: z.uuid(),
    student_id: z.uuid(),
    program_id: z.uuid(),
    session_id: z.uuid(),
    school_id: z.uuid().nullable(),
    status: z.enum(ESA_APPLICATION_STATUSES),
    amount_requested_cents: z.number().int(),
    amount_awarded_cents: z.number().int().nullable(),
    submitted_at: z.string().nullable(),
    decided_at: z.string().nullable(),
    decision_note: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('EsaApplication');

const cents = z.number().int().min(0).max(MAX_CENTS);

const ApplicationCreate = z
  .object({
    student_id: z.uuid(),
    program_id: z.uuid(),
    session_id: z.uuid().openapi({ description: 'The school year applied for.' }),
    school_id: z.uuid().nullable().optional().openapi({
      description: 'Default: the student’s school.',
    }),
    amount_requested_cents: cents.optional(),
  })
  .openapi('EsaApplicationCreate');

const ApplicationUpdate = ApplicationCreate.omit({ student_id: true })
  .partial()
  .openapi('EsaApplicationUpdate');

const ApplicationFilters = z.object({
  status: z.enum(ESA_APPLICATION_STATUSES).optional(),
  student_id: z.uuid().optional(),
  program_id: z.uuid().optional(),
});

const applicationRules = esaRules(t.esaApplications.studentId, t.esaApplications.schoolId);
export const applicationScope = scoped(esaPermissions, applicationRules);

/** A student the caller may file an application for (else 422, as for a missing one). */
async function applicableStudent(c: Ctx, studentId: string) {
  const scope = await rowScope(
    c.get('tx'),
    c.get('principal'),
    esaPermissions.write,
    esaRules(t.students.id, t.students.schoolId),
  );
  const [student] = await c
    .get('tx')
    .select({ id: t.students.id, schoolId: t.students.schoolId })
    .from(t.students)
    .where(and(eq(t.students.id, studentId), isNull(t.students.deletedAt), scope));
  if (!student)
    throw new ApiError('unprocessable', 'No such student.', {
      invalidParams: [{ name: 'json.student_id', reason: 'no such student' }],
    });
  return student;
}

export const applicationResource: ResourceDef<
  typeof ApplicationCreate,
  typeof ApplicationUpdate,
  typeof ApplicationFilters
> = {
  entity: 'esa_application',
  path: '/v1/esa/applications',
  tag: 'ESA',
  plural: 'ESA applications',
  table: t.esaApplications,
  permissions: esaPermissions,
  schemas: {
    out: Application,
    create: ApplicationCreate,
    update: ApplicationUpdate,
    filters: ApplicationFilters,
  },
  scope: applicationScope,
  operations: ['list', 'read', 'create', 'update'],
  filters: (q) => [
    q.status ? eq(t.esaApplications.status, q.status) : undefined,
    q.student_id ? eq(t.esaApplications.studentId, q.student_id) : undefined,
    q.program_id ? eq(t.esaApplications.programId, q.program_id) : undefined,
  ],
  prepareCreate: async (c, input) => {
    const student = await applicableStudent(c, input.student_id);
    return {
      studentId: input.student_id,
      programId: input.program_id,
      sessionId: input.session_id,
      schoolId: input.school_id === undefined ? student.schoolId : input.school_id,
      status: 'draft',
      amountRequestedCents: input.amount_requested_cents ?? 0,
    };
  },
  prepareUpdate: async (c, input, before) => {
    if (before.status !== 'draft')
      throw new ApiError(
        'conflict',
        `A ${String(before.status)} application cannot be changed; only a draft can.`,
      );
    const values: Row = {};
    if (input.program_id !== undefined) values.programId = input.program_id;
    if (input.session_id !== undefined) values.sessionId = input.session_id;
    if (input.school_id !== undefined) values.schoolId = input.school_id;
    if (input.amount_requested_cents !== undefined)
      values.amountRequestedCents = input.amount_requested_cents;
    return values;
  },
  descriptions: {
    list: 'Applications within the caller’s scope: a parent’s own children’s; for school staff those of their school(s) or of students attending one; all for tenant-wide roles.',
    create:
      'Creates a draft. The student must be within the caller’s reach (a parent: their own child), else 422; one live application per student, programme and year (409).',
    update: 'Only a draft can be changed (409 otherwise).',
  },
};

const IdParam = idParam('Application');

const TransitionBody = z
  .object({
    to: z.enum(ESA_APPLICATION_STATUSES),
    reason: z.string().trim().min(1).max(1000).optional().openapi({
      description: 'Kept as the decision note (approve, deny, withdraw).',
    }),
    amount_awarded_cents: cents.optional().openapi({
      description:
        'Approve only: the award. Default: the amount requested, else the programme’s award; never more than the programme’s award.',
    }),
  })
  .openapi('EsaTransition');

/** Whether the caller acts for the school (an org role), not as a family member. */
const actsForSchool = (c: Ctx, permission: string) =>
  c
    .get('principal')
    .grants.some((g) => !RELATIONSHIP_ROLES.has(g.role) && g.permissions.includes(permission));

/**
 * The application to move, locked, once the caller may make the move: deciding needs
 * `esa.decide`, any other move `esa.write`, within the caller's reach for that permission;
 * only the school puts an application under review.
 */
async function applicationToMove(c: Ctx, id: string, to: EsaApplicationStatus) {
  const permission = DECISIONS.has(to) ? 'esa.decide' : esaPermissions.write;
  if (!c.get('principal').permissions.has(permission))
    throw new ApiError('forbidden', `Missing permission: ${permission}.`);
  if (to === 'under_review' && !actsForSchool(c, permission))
    throw new ApiError('forbidden', 'Only the school puts an application under review.');
  const scope = () => rowScope(c.get('tx'), c.get('principal'), permission, applicationRules);
  return (await loadScoped(c, { table: t.esaApplications, scope }, id, 'write', {
    lock: true,
  })) as typeof t.esaApplications.$inferSelect;
}

/** An application as the API shows it (the `Application` schema). */
function applicationJson(a: typeof t.esaApplications.$inferSelect): z.infer<typeof Application> {
  return {
    id: a.id,
    student_id: a.studentId,
    program_id: a.programId,
    session_id: a.sessionId,
    school_id: a.schoolId,
    // The status column's check constraint holds it to these values.
    status: a.status as z.infer<typeof Application>['status'],
    amount_requested_cents: a.amountRequestedCents,
    amount_awarded_cents: a.amountAwardedCents,
    submitted_at: a.submittedAt ? a.submittedAt.toISOString() : null,
    decided_at: a.decidedAt ? a.decidedAt.toISOString() : null,
    decision_note: a.decisionNote,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
  };
}

export function registerApplications(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, applicationResource);
  const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });
  app.openapi(
    createRoute({
      operationId: 'transitionEsaApplication',
      method: 'post',
      path: '/v1/esa/applications/{id}/transition',
      tags: ['ESA'],
      summary: 'Move an ESA application to its next status',
      description:
        'draft → submitted → under_review → approved | denied; withdrawn from draft, submitted or under_review. Approving or denying needs `esa.decide`; putting under review is for school staff. Any other move answers 409 naming the allowed next statuses (in `detail` and `invalid_params`). Sets `submitted_at` / `decided_at`; approval sets the award.',
      middleware: guarded(esaPermissions.write),
      request: {
        params: IdParam,
        body: {
          content: {
            'application/json': {
              schema: TransitionBody,
              example: { to: 'approved', amount_awarded_cents: 700000, reason: 'Eligible.' },
            },
          },
          required: true,
        },
      },
      responses: {
        200: { description: 'The application', content: json(Application) },
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const before = await applicationToMove(c, id, body.to);
      const row = await transitionApplication(c.get('tx'), {
        application: before,
        to: body.to,
        reason: body.reason,
        amountAwardedCents: body.amount_awarded_cents,
      });
      await audit(c, {
        action: `esa_application.${body.to}`,
        entityType: 'esa_application',
        entityId: id,
        before: { status: before.status },
        after: {
          status: body.to,
          reason: body.reason ?? null,
          amount_awarded_cents: row.amountAwardedCents ?? null,
        },
      });
      return c.json(applicationJson(row), 200);
    },
  );
}
