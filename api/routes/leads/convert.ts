import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import * as t from '../../../db/schema/tenant.js';
import { convertLead } from '../../admissions/conversion.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { guarded, present } from '../../resources/crud.js';
import { rowToJson } from '../../resources/json.js';
import { guardianResource, RELATIONSHIPS } from '../people/guardians.js';
import { studentResource } from '../people/students.js';
import { problemResponses } from '../openapi.js';
import { IdParam, LEAD_PERMISSIONS, loadLead } from './shape.js';

const name = z.string().trim().min(1).max(100);
const optionalText = (max: number) => z.string().trim().min(1).max(max).nullable().optional();

const Conversion = z
  .strictObject({
    school_id: z.uuid().optional().openapi({
      description: 'The enrolling school; defaults to the lead’s school of interest.',
    }),
    session_id: z.uuid().openapi({
      description: 'A school year (`school_year` session) of the school or of its network.',
    }),
    grade_level: z.string().trim().min(1).max(16).optional().openapi({
      description: 'A grade the school offers; defaults to the lead’s grade of interest.',
    }),
    entry_date: z.iso.date().openapi({ description: 'First day, within the school year.' }),
    student: z.strictObject({
      student_number: z.string().trim().min(1).max(64),
      first_name: name.optional().openapi({
        description: 'Defaults to the student first name the family gave.',
      }),
      middle_name: optionalText(100),
      last_name: name,
      preferred_name: optionalText(100),
      date_of_birth: z.iso.date().nullable().optional(),
      gender: optionalText(40),
    }),
    guardian: z
      .strictObject({
        first_name: name.optional(),
        last_name: name.optional(),
        relationship: z.enum(RELATIONSHIPS).default('parent'),
      })
      .optional()
      .openapi({
        description:
          'The names default to the lead’s guardian name (last word = last name); unused when the organisation already has a guardian with the lead’s email.',
      }),
  })
  .openapi('LeadConversion');

const Converted = z
  .object({
    lead_id: z.uuid(),
    student_id: z.uuid(),
    guardian_id: z.uuid(),
    guardian_reused: z
      .boolean()
      .describe('The organisation’s guardian with the lead’s email was linked.'),
    student_guardian_id: z.uuid(),
    school_enrollment_id: z.uuid(),
  })
  .openapi('LeadConverted');

const route = createRoute({
  operationId: 'convertLead',
  method: 'post',
  path: '/v1/leads/{id}/convert',
  tags: ['Leads'],
  summary: 'Convert an enrolled lead into a student',
  description: [
    'Creates the student, the guardian (or links the organisation’s guardian with the lead’s email), the student–guardian link and the school enrollment, and links the lead to the student — all or nothing.',
    'Only a lead at `enrolled` that is not yet converted (409 otherwise). The school must be within the caller’s reach (403); the session must be a school year of the school, the entry date within it, and the grade one the school offers (422).',
  ].join(' '),
  middleware: guarded(
    LEAD_PERMISSIONS.write,
    'students.write',
    'guardians.write',
    'enrollments.write',
  ),
  request: {
    params: IdParam,
    body: { content: { 'application/json': { schema: Conversion } }, required: true },
  },
  responses: {
    201: {
      description: 'The records created',
      content: { 'application/json': { schema: Converted } },
    },
    ...problemResponses(400, 401, 403, 404, 409, 413, 422),
  },
});

export function registerLeadConvert(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const lead = await loadLead(c, id, 'write', { lock: true });
    const done = await convertLead(c.get('tx'), {
      tenantId: c.get('tenant').id,
      principal: c.get('principal'),
      lead,
      input: {
        schoolId: body.school_id,
        sessionId: body.session_id,
        gradeLevel: body.grade_level,
        entryDate: body.entry_date,
        student: {
          studentNumber: body.student.student_number,
          firstName: body.student.first_name,
          middleName: body.student.middle_name,
          lastName: body.student.last_name,
          preferredName: body.student.preferred_name,
          dateOfBirth: body.student.date_of_birth,
          gender: body.student.gender,
        },
        guardian: body.guardian && {
          firstName: body.guardian.first_name,
          lastName: body.guardian.last_name,
          relationship: body.guardian.relationship,
        },
      },
    });
    const { student, guardian, guardianId, link, enrollment } = done;

    await audit(c, {
      action: 'student.create',
      entityType: 'student',
      entityId: student.id,
      after: present(studentResource, student),
    });
    if (guardian)
      await audit(c, {
        action: 'guardian.create',
        entityType: 'guardian',
        entityId: guardian.id,
        after: present(guardianResource, guardian),
      });
    await audit(c, {
      action: 'student_guardian.create',
      entityType: 'student_guardian',
      entityId: link.id,
      after: {
        student_id: student.id,
        guardian_id: guardianId,
        relationship: link.relationship,
        is_primary: link.isPrimary,
      },
    });
    await audit(c, {
      action: 'school_enrollment.create',
      entityType: 'school_enrollment',
      entityId: enrollment.id,
      after: rowToJson(enrollment, [], t.schoolEnrollments),
    });
    const result = {
      lead_id: id,
      student_id: student.id,
      guardian_id: guardianId,
      guardian_reused: guardian === null,
      student_guardian_id: link.id,
      school_enrollment_id: enrollment.id,
    };
    await audit(c, {
      action: 'lead.convert',
      entityType: 'lead',
      entityId: id,
      before: { converted_student_id: null },
      after: { ...result, school_id: done.schoolId, session_id: done.sessionId },
    });
    return c.json(result, 201);
  });
}
