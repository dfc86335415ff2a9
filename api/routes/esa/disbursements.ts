import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { MAX_CENTS } from '../../finance/ledger.js';
import { ApiError } from '../../problems.js';
import { guarded, loadScoped, mount, valid, idParam } from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { rowToJson } from '../../resources/json.js';
import { problemResponses } from '../openapi.js';
import { applicationResource, esaPermissions } from './applications.js';

const STATUSES = ['scheduled', 'disbursed', 'returned', 'cancelled'] as const;

const Disbursement = z
  .object({
    id: z.uuid(),
    application_id: z.uuid(),
    amount_cents: z.number().int(),
    scheduled_on: z.string(),
    disbursed_on: z.string().nullable(),
    status: z.enum(STATUSES),
    reference: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('EsaDisbursement');

const DisbursementCreate = z
  .object({
    amount_cents: z.number().int().min(1).max(MAX_CENTS),
    scheduled_on: z.iso.date(),
    status: z.enum(['scheduled', 'disbursed']).optional().openapi({
      description: 'Default `scheduled`; `disbursed` records money already received.',
    }),
    disbursed_on: z.iso.date().optional().openapi({ description: 'Required when disbursed.' }),
    reference: z.string().trim().min(1).max(200).optional(),
  })
  .openapi('EsaDisbursementCreate');

const IdParam = idParam('Application');

/** Where a disbursement may go next; returned and cancelled are final. */
const DISBURSEMENT_MOVES: Record<
  (typeof STATUSES)[number],
  readonly ('disbursed' | 'returned' | 'cancelled')[]
> = {
  scheduled: ['disbursed', 'cancelled'],
  disbursed: ['returned'],
  returned: [],
  cancelled: [],
};

const DisbursementStatus = z
  .object({
    to: z.enum(['disbursed', 'returned', 'cancelled']),
    disbursed_on: z.iso.date().optional().openapi({ description: 'Required for disbursed.' }),
    reference: z.string().trim().min(1).max(200).optional(),
  })
  .openapi('EsaDisbursementStatus');

const DisbursementParam = IdParam.extend({
  disbursement_id: z
    .uuid()
    .openapi({ param: { name: 'disbursement_id', in: 'path' }, description: 'Disbursement id.' }),
});

const show = (row: typeof t.esaDisbursements.$inferSelect) =>
  rowToJson(row, [], t.esaDisbursements);

/** Disbursements of an approved application, under /v1/esa/applications/{id}/disbursements. */
export function registerDisbursements(app: OpenAPIHono<AppEnv>): void {
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

  mount(
    app,
    createRoute({
      operationId: 'listEsaDisbursements',
      method: 'get',
      path: '/v1/esa/applications/{id}/disbursements',
      tags: ['ESA'],
      summary: 'An ESA application’s disbursements',
      middleware: guarded(esaPermissions.read),
      request: { params: IdParam },
      responses: {
        200: {
          description: 'The disbursements, by scheduled date',
          content: json(z.object({ data: z.array(Disbursement) })),
        },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = valid<{ id: string }>(c, 'param');
      await loadScoped(c, applicationResource, id, 'read');
      const rows = await c
        .get('tx')
        .select()
        .from(t.esaDisbursements)
        .where(and(eq(t.esaDisbursements.applicationId, id), isNull(t.esaDisbursements.deletedAt)))
        .orderBy(asc(t.esaDisbursements.scheduledOn), asc(t.esaDisbursements.id));
      return c.json({ data: rows.map(show) }, 200);
    },
  );

  mount(
    app,
    createRoute({
      operationId: 'createEsaDisbursement',
      method: 'post',
      path: '/v1/esa/applications/{id}/disbursements',
      tags: ['ESA'],
      summary: 'Schedule or record a disbursement of an award',
      description:
        'Only for an approved application (409 otherwise). Scheduled and disbursed amounts together may not exceed the award (422). Needs `esa.write` and `finance.write`.',
      middleware: guarded(esaPermissions.write, 'finance.write'),
      request: { params: IdParam, body: { content: json(DisbursementCreate), required: true } },
      responses: {
        201: { description: 'The disbursement', content: json(Disbursement) },
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = valid<{ id: string }>(c, 'param');
      const body = valid<z.infer<typeof DisbursementCreate>>(c, 'json');
      const application = await loadScoped(c, applicationResource, id, 'write', { lock: true });
      if (application.status !== 'approved')
        throw new ApiError(
          'conflict',
          `A ${String(application.status)} application has no award to disburse.`,
        );
      const status = body.status ?? 'scheduled';
      if ((status === 'disbursed') !== (body.disbursed_on !== undefined))
        throw new ApiError(
          'unprocessable',
          'A disbursed payment has a date; a scheduled one not.',
          {
            invalidParams: [
              {
                name: 'json.disbursed_on',
                reason: status === 'disbursed' ? 'required when disbursed' : 'only when disbursed',
              },
            ],
          },
        );
      const tx = c.get('tx');
      const [committed] = await tx
        .select({ cents: sql<string>`coalesce(sum(${t.esaDisbursements.amountCents}), 0)::text` })
        .from(t.esaDisbursements)
        .where(
          and(
            eq(t.esaDisbursements.applicationId, id),
            isNull(t.esaDisbursements.deletedAt),
            inArray(t.esaDisbursements.status, ['scheduled', 'disbursed']),
          ),
        );
      const left = (application.amountAwardedCents as number) - Number(committed?.cents ?? 0);
      if (body.amount_cents > left)
        throw new ApiError('unprocessable', `Only ${left} cents of the award are left.`, {
          invalidParams: [
            { name: 'json.amount_cents', reason: `exceeds what is left of the award (${left})` },
          ],
        });
      const [row] = await mapDbErrors(() =>
        tx
          .insert(t.esaDisbursements)
          .values({
            tenantId: c.get('tenant').id,
            applicationId: id,
            amountCents: body.amount_cents,
            scheduledOn: body.scheduled_on,
            disbursedOn: body.disbursed_on ?? null,
            status,
            reference: body.reference ?? null,
          })
          .returning(),
      );
      const after = show(row!);
      await audit(c, {
        action: 'esa_disbursement.create',
        entityType: 'esa_disbursement',
        entityId: row!.id,
        after,
      });
      return c.json(after, 201);
    },
  );
  mount(
    app,
    createRoute({
      operationId: 'setEsaDisbursementStatus',
      method: 'post',
      path: '/v1/esa/applications/{id}/disbursements/{disbursement_id}/status',
      tags: ['ESA'],
      summary: 'Change a disbursement’s status',
      description:
        'scheduled → disbursed (with `disbursed_on`) or cancelled; disbursed → returned, unless payments were made from it (409). Any other move answers 409 naming the allowed ones. Needs `esa.write` and `finance.write`.',
      middleware: guarded(esaPermissions.write, 'finance.write'),
      request: {
        params: DisbursementParam,
        body: { content: json(DisbursementStatus), required: true },
      },
      responses: {
        200: { description: 'The disbursement', content: json(Disbursement) },
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id, disbursement_id } = valid<{ id: string; disbursement_id: string }>(c, 'param');
      const body = valid<z.infer<typeof DisbursementStatus>>(c, 'json');
      await loadScoped(c, applicationResource, id, 'write');
      const tx = c.get('tx');
      const [before] = await tx
        .select()
        .from(t.esaDisbursements)
        .where(
          and(
            eq(t.esaDisbursements.id, disbursement_id),
            eq(t.esaDisbursements.applicationId, id),
            isNull(t.esaDisbursements.deletedAt),
          ),
        )
        .for('update');
      if (!before) throw new ApiError('not_found');
      const allowed = DISBURSEMENT_MOVES[before.status as (typeof STATUSES)[number]];
      if (!allowed.includes(body.to))
        throw new ApiError(
          'conflict',
          `A ${before.status} disbursement cannot become ${body.to}; allowed next: ${allowed.length ? allowed.join(', ') : 'none (final)'}.`,
          {
            invalidParams: [
              {
                name: 'json.to',
                reason: allowed.length
                  ? `must be one of: ${allowed.join(', ')}`
                  : `${before.status} is final`,
              },
            ],
          },
        );
      if ((body.to === 'disbursed') !== (body.disbursed_on !== undefined))
        throw new ApiError('unprocessable', 'A disbursement is dated when it is disbursed only.', {
          invalidParams: [
            {
              name: 'json.disbursed_on',
              reason: body.to === 'disbursed' ? 'required when disbursed' : 'only when disbursed',
            },
          ],
        });
      if (body.to === 'returned') {
        const [used] = await tx
          .select({ id: t.payments.id })
          .from(t.payments)
          .where(
            and(
              eq(t.payments.esaDisbursementId, disbursement_id),
              isNull(t.payments.deletedAt),
              eq(t.payments.status, 'succeeded'),
            ),
          )
          .limit(1);
        if (used)
          throw new ApiError(
            'conflict',
            'Payments were made from this disbursement; refund them before returning it.',
          );
      }
      const [row] = await mapDbErrors(() =>
        tx
          .update(t.esaDisbursements)
          .set({
            status: body.to,
            ...(body.to === 'disbursed' ? { disbursedOn: body.disbursed_on } : {}),
            ...(body.reference ? { reference: body.reference } : {}),
          })
          .where(eq(t.esaDisbursements.id, disbursement_id))
          .returning(),
      );
      await audit(c, {
        action: `esa_disbursement.${body.to}`,
        entityType: 'esa_disbursement',
        entityId: disbursement_id,
        before: { status: before.status },
        after: { status: body.to, disbursed_on: row!.disbursedOn },
      });
      return c.json(show(row!), 200);
    },
  );
}
