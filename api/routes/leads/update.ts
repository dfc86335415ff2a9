import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { updateLead } from '../../admissions/lead-changes.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { checkIfMatch, etag, guarded, IfMatch } from '../../resources/crud.js';
import { snake } from '../../resources/json.js';
import { problemResponses } from '../openapi.js';
import { leadFields } from '../public/shared.js';
import {
  IdParam,
  LEAD_PERMISSIONS,
  LeadDetail,
  leadDetail,
  loadLead,
  type LeadRow,
} from './shape.js';

const LeadUpdate = z
  .strictObject({
    guardian_name: leadFields.guardian_name.optional(),
    phone: leadFields.phone,
    student_first_name: leadFields.student_first_name,
    grade_interest: leadFields.grade_interest,
    school_id: z.uuid().nullable().optional().openapi({ description: 'School of interest.' }),
    score: z.number().int().min(0).max(100).optional(),
    owner_user_id: z.uuid().nullable().optional().openapi({
      description:
        'The staff member working the lead: a user of this organisation who may change leads of its school.',
    }),
  })
  .openapi('LeadUpdate');

const route = createRoute({
  operationId: 'updateLead',
  method: 'patch',
  path: '/v1/leads/{id}',
  tags: ['Leads'],
  summary: 'Change a lead: its owner, contact details, school or grade of interest, score',
  description:
    'Fields left out stay as they are; `null` (or an empty string) clears an optional one. The stage changes through `POST /v1/leads/{id}/stage`. Send `If-Match` with the ETag you read to avoid overwriting a newer change (412).',
  middleware: guarded(LEAD_PERMISSIONS.write),
  request: {
    params: IdParam,
    headers: IfMatch,
    body: { content: { 'application/json': { schema: LeadUpdate } }, required: true },
  },
  responses: {
    200: {
      description: 'The changed lead',
      content: { 'application/json': { schema: LeadDetail } },
    },
    ...problemResponses(400, 401, 403, 404, 412, 413, 422),
  },
});

/** Contact data: the audit log records that it changed, never its values. */
const CONTACT_FIELDS = ['guardian_name', 'phone', 'student_first_name'] as const;

export function registerLeadUpdate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    const before = await loadLead(c, id, 'write', { lock: true });
    checkIfMatch(c, before);
    const { lead, changed } = await updateLead(c.get('tx'), {
      principal: c.get('principal'),
      lead: before,
      change: {
        guardianName: input.guardian_name,
        phone: input.phone,
        studentFirstName: input.student_first_name,
        gradeInterest: input.grade_interest,
        schoolId: input.school_id,
        score: input.score,
        ownerUserId: input.owner_user_id,
      },
    });
    if (changed.length > 0) {
      const fields = changed.map((key) => snake(key));
      const shown = (row: LeadRow) =>
        Object.fromEntries(
          changed
            .map((key, i) => [fields[i]!, row[key]] as const)
            .filter(([field]) => !(CONTACT_FIELDS as readonly string[]).includes(field)),
        );
      await audit(c, {
        action: 'lead.update',
        entityType: 'lead',
        entityId: id,
        before: shown(before),
        after: { ...shown(lead), changed: fields },
      });
    }
    c.header('ETag', etag(lead));
    return c.json(await leadDetail(c, lead), 200);
  });
}
