import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ESA_APPLICATION_STATUSES, type EsaApplicationStatus } from '../../../db/schema/esa.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { RELATIONSHIP_ROLES, rowScope } from '../../auth/scope.js';
import { MAX_CENTS } from '../../finance/ledger.js';
import { ApiError } from '../../problems.js';
import {
  guarded,
  loadScoped,
  mount,
  present,
  registerResource,
  valid,
  type Ctx,
  type ResourceDef,
  type Row,
  idParam,
} from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses } from '../openapi.js';
import { esaRules } from './scope.js';
import { allowedNext, canMove, DECISIONS } from './transitions.js';

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

async function transition(c: Ctx, id: string, body: z.infer<typeof TransitionBody>) {
  const to = body.to;
  const deciding = DECISIONS.has(to);
  const permission = deciding ? 'esa.decide' : esaPermissions.write;
  if (!c.get('principal').permissions.has(permission))
    throw new ApiError('forbidden', `Missing permission: ${permission}.`);
  if (to === 'under_review' && !actsForSchool(c, permission))
    throw new ApiError('forbidden', 'Only the school puts an application under review.');
  const scope = () => rowScope(c.get('tx'), c.get('principal'), permission, applicationRules);
  const before = await loadScoped(c, { table: t.esaApplications, scope }, id, 'write', {
    lock: true,
  });
  const from = before.status as EsaApplicationStatus;
  if (!canMove(from, to)) {
    const next = allowedNext(from);
    throw new ApiError(
      'conflict',
      `An application cannot move from ${from} to ${to}; allowed next: ${next.length ? next.join(', ') : 'none (final)'}.`,
      {
        invalidParams: [
          {
            name: 'json.to',
            reason: next.length ? `must be one of: ${next.join(', ')}` : `${from} is final`,
          },
        ],
      },
    );
  }
  if (body.amount_awarded_cents !== undefined && to !== 'approved')
    throw new ApiError('unprocessable', 'An award is given on approval only.', {
      invalidParams: [{ name: 'json.amount_awarded_cents', reason: 'only with to: approved' }],
    });
  const now = new Date();
  const values: Row = { status: to };
  if (to === 'submitted') values.submittedAt = now;
  if (deciding) values.decidedAt = now;
  if (body.reason && (deciding || to === 'withdrawn')) values.decisionNote = body.reason;
  if (to === 'approved') {
    const [program] = await c
      .get('tx')
      .select({ award: t.esaPrograms.awardAmountCents })
      .from(t.esaPrograms)
      .where(eq(t.esaPrograms.id, String(before.programId)));
    const cap = program?.award ?? 0;
    const requested = before.amountRequestedCents as number;
    const award = body.amount_awarded_cents ?? (requested > 0 ? Math.min(requested, cap) : cap);
    if (award > cap)
      throw new ApiError('unprocessable', `The programme awards at most ${cap} cents.`, {
        invalidParams: [{ name: 'json.amount_awarded_cents', reason: `must be at most ${cap}` }],
      });
    values.amountAwardedCents = award;
  }
  const [row] = await mapDbErrors(() =>
    c
      .get('tx')
      .update(t.esaApplications)
      .set(values as never)
      .where(eq(t.esaApplications.id, id))
      .returning(),
  );
  await audit(c, {
    action: `esa_application.${to}`,
    entityType: 'esa_application',
    entityId: id,
    before: { status: from },
    after: {
      status: to,
      reason: body.reason ?? null,
      amount_awarded_cents: (row as Row).amountAwardedCents ?? null,
    },
  });
  return row as Row;
}

export function registerApplications(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, applicationResource);
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  mount(
    app,
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
      const { id } = valid<{ id: string }>(c, 'param');
      const body = valid<z.infer<typeof TransitionBody>>(c, 'json');
      const row = await transition(c, id, body);
      return c.json(present(applicationResource, row), 200);
    },
  );
}
