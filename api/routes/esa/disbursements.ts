import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import {
  createDisbursement,
  DISBURSEMENT_STATUSES,
  setDisbursementStatus,
} from '../../esa/disbursements.js';
import { MAX_CENTS } from '../../finance/ledger.js';
import { guarded, loadScoped, idParam } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { applicationResource, esaPermissions } from './applications.js';

const Disbursement = z
  .object({
    id: z.uuid(),
    application_id: z.uuid(),
    amount_cents: z.number().int(),
    scheduled_on: z.string(),
    disbursed_on: z.string().nullable(),
    status: z.enum(DISBURSEMENT_STATUSES),
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

/** A disbursement as the API shows it (the `EsaDisbursement` schema). */
function show(d: typeof t.esaDisbursements.$inferSelect): z.infer<typeof Disbursement> {
  return {
    id: d.id,
    application_id: d.applicationId,
    amount_cents: d.amountCents,
    scheduled_on: d.scheduledOn,
    disbursed_on: d.disbursedOn,
    // The status column's check constraint holds it to these values.
    status: d.status as (typeof DISBURSEMENT_STATUSES)[number],
    reference: d.reference,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

/** Disbursements of an approved application, under /v1/esa/applications/{id}/disbursements. */
export function registerDisbursements(app: OpenAPIHono<AppEnv>): void {
  const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

  app.openapi(
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
      const { id } = c.req.valid('param');
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

  app.openapi(
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
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const application = await loadScoped(c, applicationResource, id, 'write', { lock: true });
      const row = await createDisbursement(c.get('tx'), {
        tenantId: c.get('tenant').id,
        application: {
          id,
          status: String(application.status),
          amountAwardedCents: application.amountAwardedCents as number | null,
        },
        amountCents: body.amount_cents,
        scheduledOn: body.scheduled_on,
        status: body.status,
        disbursedOn: body.disbursed_on,
        reference: body.reference,
      });
      const after = show(row);
      await audit(c, {
        action: 'esa_disbursement.create',
        entityType: 'esa_disbursement',
        entityId: row.id,
        after,
      });
      return c.json(after, 201);
    },
  );
  app.openapi(
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
      const { id, disbursement_id } = c.req.valid('param');
      const body = c.req.valid('json');
      await loadScoped(c, applicationResource, id, 'write');
      const { before, after: row } = await setDisbursementStatus(c.get('tx'), {
        applicationId: id,
        disbursementId: disbursement_id,
        to: body.to,
        disbursedOn: body.disbursed_on,
        reference: body.reference,
      });
      await audit(c, {
        action: `esa_disbursement.${body.to}`,
        entityType: 'esa_disbursement',
        entityId: disbursement_id,
        before: { status: before.status },
        after: { status: body.to, disbursed_on: row.disbursedOn },
      });
      return c.json(show(row), 200);
    },
  );
}
