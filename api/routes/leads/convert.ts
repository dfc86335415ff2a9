import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { enrollmentSession, guardianByEmail, splitName } from '../../admissions/conversion.js';
import { findActiveSchool, offeredGrade } from '../../admissions/schools.js';
import { ENROLLED_STAGE } from '../../admissions/stage-moves.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { orgReach } from '../../auth/scope.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { guarded, mount, present, valid, type Ctx } from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
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
type Conversion = z.infer<typeof Conversion>;

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

/** The school must be within the caller's reach for every record the conversion writes. */
async function checkReach(c: Ctx, schoolId: string): Promise<void> {
  for (const permission of ['students.write', 'enrollments.write']) {
    const reach = await orgReach(c.get('tx'), c.get('principal'), permission);
    if (!reach.all && !reach.orgUnitIds.includes(schoolId))
      throw new ApiError('forbidden', 'The school is outside your reach.');
  }
}

export function registerLeadConvert(app: OpenAPIHono<AppEnv>): void {
  mount(app, route, async (c) => {
    const { id } = valid<{ id: string }>(c, 'param');
    const body = valid<Conversion>(c, 'json');
    const tx = c.get('tx');
    const tenantId = c.get('tenant').id;
    const lead = await loadLead(c, id, 'write', { lock: true });
    if (lead.convertedStudentId)
      throw new ApiError('conflict', 'The lead has been converted already.');
    if (lead.stage !== ENROLLED_STAGE)
      throw new ApiError(
        'conflict',
        `Only an enrolled lead is converted; this one is ${lead.stage}.`,
      );

    const problems: InvalidParam[] = [];
    const schoolId = body.school_id ?? lead.schoolId;
    const school = schoolId ? await findActiveSchool(tx, schoolId) : null;
    if (!schoolId) problems.push({ name: 'json.school_id', reason: 'required: the lead has none' });
    else if (!school) problems.push({ name: 'json.school_id', reason: 'not an active school' });
    else await checkReach(c, school.id);

    const wantedGrade = body.grade_level ?? lead.gradeInterest;
    const grade = school && wantedGrade ? offeredGrade(school, wantedGrade) : null;
    if (!wantedGrade)
      problems.push({ name: 'json.grade_level', reason: 'required: the lead has no grade' });
    else if (school && !grade)
      problems.push({
        name: 'json.grade_level',
        reason: `must be one of ${school.gradeLevels.join(', ')}`,
      });

    const session = school ? await enrollmentSession(tx, school.id, body.session_id) : null;
    if (school && !session)
      problems.push({ name: 'json.session_id', reason: 'not a school year of this school' });
    else if (session && (body.entry_date < session.startDate || body.entry_date > session.endDate))
      problems.push({
        name: 'json.entry_date',
        reason: `must be within the school year (${session.startDate} – ${session.endDate})`,
      });

    const firstName = body.student.first_name ?? lead.studentFirstName;
    if (!firstName)
      problems.push({ name: 'json.student.first_name', reason: 'required: the lead has none' });

    const existing = await guardianByEmail(tx, lead.email);
    const guardianName = existing
      ? null
      : {
          ...splitName(lead.guardianName),
          ...(body.guardian?.first_name ? { firstName: body.guardian.first_name } : {}),
          ...(body.guardian?.last_name ? { lastName: body.guardian.last_name } : {}),
        };
    if (guardianName && !(guardianName.firstName && guardianName.lastName))
      problems.push({
        name: 'json.guardian.last_name',
        reason: 'required: the lead’s guardian name is a single word',
      });

    if (problems.length)
      throw new ApiError('unprocessable', 'See invalid_params for what to fix.', {
        invalidParams: problems,
      });

    const [student] = await mapDbErrors(() =>
      tx
        .insert(t.students)
        .values({
          tenantId,
          studentNumber: body.student.student_number,
          firstName: firstName!,
          middleName: body.student.middle_name ?? null,
          lastName: body.student.last_name,
          preferredName: body.student.preferred_name ?? null,
          dateOfBirth: body.student.date_of_birth ?? null,
          gender: body.student.gender ?? null,
          gradeLevel: grade!,
          schoolId: school!.id,
          status: 'active',
        })
        .returning(),
    );
    const guardian = existing
      ? null
      : (
          await mapDbErrors(() =>
            tx
              .insert(t.guardians)
              .values({
                tenantId,
                firstName: guardianName!.firstName!,
                lastName: guardianName!.lastName!,
                email: lead.email,
                phone: lead.phone,
              })
              .returning(),
          )
        )[0]!;
    const guardianId = existing?.id ?? guardian!.id;
    const [link] = await mapDbErrors(() =>
      tx
        .insert(t.studentGuardians)
        .values({
          tenantId,
          studentId: student!.id,
          guardianId,
          relationship: body.guardian?.relationship ?? 'parent',
          isPrimary: true,
        })
        .returning(),
    );
    const [enrollment] = await mapDbErrors(() =>
      tx
        .insert(t.schoolEnrollments)
        .values({
          tenantId,
          studentId: student!.id,
          schoolId: school!.id,
          sessionId: session!.id,
          gradeLevel: grade!,
          entryDate: body.entry_date,
        })
        .returning(),
    );
    await tx.update(t.leads).set({ convertedStudentId: student!.id }).where(eq(t.leads.id, id));

    await audit(c, {
      action: 'student.create',
      entityType: 'student',
      entityId: student!.id,
      after: present(studentResource, student!),
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
      entityId: link!.id,
      after: {
        student_id: student!.id,
        guardian_id: guardianId,
        relationship: link!.relationship,
        is_primary: link!.isPrimary,
      },
    });
    await audit(c, {
      action: 'school_enrollment.create',
      entityType: 'school_enrollment',
      entityId: enrollment!.id,
      after: rowToJson(enrollment!, [], t.schoolEnrollments),
    });
    const result = {
      lead_id: id,
      student_id: student!.id,
      guardian_id: guardianId,
      guardian_reused: Boolean(existing),
      student_guardian_id: link!.id,
      school_enrollment_id: enrollment!.id,
    };
    await audit(c, {
      action: 'lead.convert',
      entityType: 'lead',
      entityId: id,
      before: { converted_student_id: null },
      after: { ...result, school_id: school!.id, session_id: session!.id },
    });
    return c.json(result, 201);
  });
}
