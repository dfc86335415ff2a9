import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { mayOwnLead } from '../../admissions/owners.js';
import { findActiveSchool, offeredGrade } from '../../admissions/schools.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { orgReach } from '../../auth/scope.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import {
  checkIfMatch,
  etag,
  guarded,
  IfMatch,
  mount,
  valid,
  type Ctx,
} from '../../resources/crud.js';
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
type LeadUpdate = z.infer<typeof LeadUpdate>;

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

const orNull = (v: string | null | undefined) => (v ? v : null);

/** Column values for the change, after checking the school, grade and owner (422/403). */
async function changesOf(
  c: Ctx,
  before: LeadRow,
  input: LeadUpdate,
): Promise<Partial<typeof t.leads.$inferInsert>> {
  const tx = c.get('tx');
  const problems: InvalidParam[] = [];
  const values: Partial<typeof t.leads.$inferInsert> = {};
  if (input.guardian_name !== undefined) values.guardianName = input.guardian_name;
  if (input.phone !== undefined) values.phone = orNull(input.phone);
  if (input.student_first_name !== undefined)
    values.studentFirstName = orNull(input.student_first_name);
  if (input.score !== undefined) values.score = input.score;

  const schoolId = input.school_id === undefined ? before.schoolId : input.school_id;
  const school = schoolId ? await findActiveSchool(tx, schoolId) : null;
  if (input.school_id !== undefined && input.school_id !== before.schoolId) {
    if (input.school_id && !school) {
      problems.push({ name: 'json.school_id', reason: 'not an active school' });
    } else {
      // The lead must stay within the caller's reach.
      const reach = await orgReach(tx, c.get('principal'), LEAD_PERMISSIONS.write);
      if (!reach.all && !(input.school_id && reach.orgUnitIds.includes(input.school_id)))
        throw new ApiError('forbidden', 'The lead would be outside your reach.');
      values.schoolId = input.school_id;
    }
  }
  if (input.grade_interest !== undefined) {
    const grade = orNull(input.grade_interest);
    const offered = grade && school ? offeredGrade(school, grade) : grade;
    if (grade && !offered)
      problems.push({
        name: 'json.grade_interest',
        reason: `must be one of ${school!.gradeLevels.join(', ')}`,
      });
    values.gradeInterest = offered;
  }
  if (input.owner_user_id !== undefined) {
    const owner = input.owner_user_id;
    if (owner && !(await mayOwnLead(tx, owner, schoolId)))
      problems.push({
        name: 'json.owner_user_id',
        reason: 'must be a user of this organisation who may change this lead',
      });
    values.ownerUserId = owner;
  }
  if (problems.length)
    throw new ApiError('unprocessable', 'See invalid_params for what to fix.', {
      invalidParams: problems,
    });
  return values;
}

export function registerLeadUpdate(app: OpenAPIHono<AppEnv>): void {
  mount(app, route, async (c) => {
    const { id } = valid<{ id: string }>(c, 'param');
    const input = valid<LeadUpdate>(c, 'json');
    const before = await loadLead(c, id, 'write', { lock: true });
    checkIfMatch(c, before);
    const values = await changesOf(c, before, input);
    const changed = Object.entries(values).filter(
      ([key, value]) => before[key as keyof LeadRow] !== value,
    );
    let lead = before;
    if (changed.length > 0) {
      const [updated] = await c
        .get('tx')
        .update(t.leads)
        .set(Object.fromEntries(changed))
        .where(eq(t.leads.id, id))
        .returning();
      lead = updated!;
      const fields = changed.map(([key]) => snake(key));
      const shown = (row: LeadRow) =>
        Object.fromEntries(
          changed
            .map(([key], i) => [fields[i]!, row[key as keyof LeadRow]] as const)
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
