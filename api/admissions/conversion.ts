import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { Principal } from '../auth/principal.js';
import { orgReach } from '../auth/scope.js';
import { ApiError, type InvalidParam } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { findActiveSchool, offeredGrade } from './schools.js';
import { ENROLLED_STAGE } from './stage-moves.js';

/**
 * The school year a student can be enrolled in at a school: a `school_year` session of
 * the school itself or of one of its ancestors (a network shares one calendar year).
 * Null when there is no such session in this tenant.
 */
export async function enrollmentSession(
  tx: Tx<TenantSchema>,
  schoolId: string,
  sessionId: string,
): Promise<{ id: string; startDate: string; endDate: string } | null> {
  const rows = rowsOf<{ id: string; start_date: string; end_date: string }>(
    await tx.execute(sql`
      with recursive up(id, parent_id) as (
        select id, parent_id from org_units where id = ${schoolId}::uuid and deleted_at is null
        union
        select o.id, o.parent_id from org_units o join up on o.id = up.parent_id
        where o.deleted_at is null
      )
      select s.id::text, s.start_date::text, s.end_date::text
      from academic_sessions s
      where s.id = ${sessionId}::uuid and s.deleted_at is null and s.kind = 'school_year'
        and s.org_unit_id in (select id from up)`),
  );
  const row = rows[0];
  return row ? { id: row.id, startDate: row.start_date, endDate: row.end_date } : null;
}

/** The tenant's oldest guardian with this email (any case), or null. */
export async function guardianByEmail(
  tx: Tx<TenantSchema>,
  email: string,
): Promise<{ id: string } | null> {
  const [row] = await tx
    .select({ id: t.guardians.id })
    .from(t.guardians)
    .where(and(sql`lower(${t.guardians.email}) = lower(${email})`, isNull(t.guardians.deletedAt)))
    .orderBy(asc(t.guardians.createdAt), asc(t.guardians.id))
    .limit(1);
  return row ?? null;
}

/**
 * A lead's single guardian name as first and last name: the last word is the last name.
 * Null when there is only one word (the caller must say which it is).
 */
export function splitName(full: string): { firstName: string; lastName: string } | null {
  const words = full.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2) return null;
  return { firstName: words.slice(0, -1).join(' '), lastName: words.at(-1)! };
}

export interface ConversionInput {
  /** Default: the lead's school of interest. */
  schoolId?: string;
  sessionId: string;
  /** Default: the lead's grade of interest. */
  gradeLevel?: string;
  entryDate: string;
  student: {
    studentNumber: string;
    /** Default: the student first name the family gave. */
    firstName?: string;
    middleName?: string | null;
    lastName: string;
    preferredName?: string | null;
    dateOfBirth?: string | null;
    gender?: string | null;
  };
  /** Names default to the lead's guardian name; unused when a guardian has the lead's email. */
  guardian?: { firstName?: string; lastName?: string; relationship: string };
}

export interface Conversion {
  student: typeof t.students.$inferSelect;
  /** The guardian created; null when the organisation's guardian with the email was linked. */
  guardian: typeof t.guardians.$inferSelect | null;
  guardianId: string;
  link: typeof t.studentGuardians.$inferSelect;
  enrollment: typeof t.schoolEnrollments.$inferSelect;
  schoolId: string;
  sessionId: string;
}

/**
 * Converts an enrolled lead (loaded and locked by the caller) into a student: creates the
 * student, the guardian or links the organisation's guardian with the lead's email, the
 * student–guardian link and the school enrollment, and links the lead to the student.
 * Refuses (ApiError) a lead converted already or not enrolled (conflict), a school outside
 * the principal's reach (forbidden), and input the lead cannot complete (unprocessable,
 * naming each field as `json.…`).
 */
export async function convertLead(
  tx: Tx<TenantSchema>,
  args: {
    tenantId: string;
    principal: Principal;
    lead: typeof t.leads.$inferSelect;
    input: ConversionInput;
  },
): Promise<Conversion> {
  refuseUnconvertible(args.lead);
  const plan = await planConversion(tx, args);
  return writeConversion(tx, args.tenantId, args.lead, args.input, plan);
}

type Lead = typeof t.leads.$inferSelect;

/** What a conversion writes, every field checked. */
interface ConversionPlan {
  schoolId: string;
  grade: string;
  sessionId: string;
  firstName: string;
  /** The organisation's guardian with the lead's email, else the new guardian's name. */
  guardian: { existingId: string } | { firstName: string; lastName: string };
}

function refuseUnconvertible(lead: Lead): void {
  if (lead.convertedStudentId)
    throw new ApiError('conflict', 'The lead has been converted already.');
  if (lead.stage !== ENROLLED_STAGE)
    throw new ApiError(
      'conflict',
      `Only an enrolled lead is converted; this one is ${lead.stage}.`,
    );
}

/**
 * The input completed from the lead and checked: every missing or wrong field is named in
 * one 422; a school outside the principal's reach is refused at once (403).
 */
async function planConversion(
  tx: Tx<TenantSchema>,
  args: { principal: Principal; lead: Lead; input: ConversionInput },
): Promise<ConversionPlan> {
  const { lead, input } = args;
  const problems: InvalidParam[] = [];
  const placement = await placementOf(tx, args, problems);

  const firstName = input.student.firstName ?? lead.studentFirstName;
  if (!firstName)
    problems.push({ name: 'json.student.first_name', reason: 'required: the lead has none' });

  const existing = await guardianByEmail(tx, lead.email);
  const guardianName = existing ? null : newGuardianName(lead, input);
  if (guardianName && !(guardianName.firstName && guardianName.lastName))
    problems.push({
      name: 'json.guardian.last_name',
      reason: 'required: the lead’s guardian name is a single word',
    });

  if (problems.length)
    throw new ApiError('unprocessable', 'See invalid_params for what to fix.', {
      invalidParams: problems,
    });
  return {
    schoolId: placement.school!.id,
    grade: placement.grade!,
    sessionId: placement.session!.id,
    firstName: firstName!,
    guardian: existing
      ? { existingId: existing.id }
      : { firstName: guardianName!.firstName!, lastName: guardianName!.lastName! },
  };
}

/** The school, grade and school year the student enters; what is wrong goes to `problems`. */
async function placementOf(
  tx: Tx<TenantSchema>,
  args: { principal: Principal; lead: Lead; input: ConversionInput },
  problems: InvalidParam[],
) {
  const { lead, input } = args;
  const schoolId = input.schoolId ?? lead.schoolId;
  const school = schoolId ? await findActiveSchool(tx, schoolId) : null;
  if (!schoolId) problems.push({ name: 'json.school_id', reason: 'required: the lead has none' });
  else if (!school) problems.push({ name: 'json.school_id', reason: 'not an active school' });
  else await checkReach(tx, args.principal, school.id);

  const wantedGrade = input.gradeLevel ?? lead.gradeInterest;
  const grade = school && wantedGrade ? offeredGrade(school, wantedGrade) : null;
  if (!wantedGrade)
    problems.push({ name: 'json.grade_level', reason: 'required: the lead has no grade' });
  else if (school && !grade)
    problems.push({
      name: 'json.grade_level',
      reason: `must be one of ${school.gradeLevels.join(', ')}`,
    });

  const session = school ? await enrollmentSession(tx, school.id, input.sessionId) : null;
  if (school && !session)
    problems.push({ name: 'json.session_id', reason: 'not a school year of this school' });
  else if (session && (input.entryDate < session.startDate || input.entryDate > session.endDate))
    problems.push({
      name: 'json.entry_date',
      reason: `must be within the school year (${session.startDate} – ${session.endDate})`,
    });
  return { school, grade, session };
}

/** The new guardian's name: the lead's guardian name, each part overridden by the input. */
function newGuardianName(lead: Lead, input: ConversionInput) {
  return {
    ...splitName(lead.guardianName),
    ...(input.guardian?.firstName ? { firstName: input.guardian.firstName } : {}),
    ...(input.guardian?.lastName ? { lastName: input.guardian.lastName } : {}),
  };
}

/** Writes the student, the guardian (unless linked), the link and the enrollment. */
async function writeConversion(
  tx: Tx<TenantSchema>,
  tenantId: string,
  lead: Lead,
  input: ConversionInput,
  plan: ConversionPlan,
): Promise<Conversion> {
  const [student] = await mapDbErrors(() =>
    tx
      .insert(t.students)
      .values({
        tenantId,
        studentNumber: input.student.studentNumber,
        firstName: plan.firstName,
        middleName: input.student.middleName ?? null,
        lastName: input.student.lastName,
        preferredName: input.student.preferredName ?? null,
        dateOfBirth: input.student.dateOfBirth ?? null,
        gender: input.student.gender ?? null,
        gradeLevel: plan.grade,
        schoolId: plan.schoolId,
        status: 'active',
      })
      .returning(),
  );
  const guardian =
    'existingId' in plan.guardian ? null : await insertGuardian(tx, tenantId, lead, plan.guardian);
  const guardianId = 'existingId' in plan.guardian ? plan.guardian.existingId : guardian!.id;
  const [link] = await mapDbErrors(() =>
    tx
      .insert(t.studentGuardians)
      .values({
        tenantId,
        studentId: student!.id,
        guardianId,
        relationship: input.guardian?.relationship ?? 'parent',
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
        schoolId: plan.schoolId,
        sessionId: plan.sessionId,
        gradeLevel: plan.grade,
        entryDate: input.entryDate,
      })
      .returning(),
  );
  await tx
    .update(t.leads)
    .set({ convertedStudentId: student!.id, convertedAt: new Date() })
    .where(eq(t.leads.id, lead.id));
  return {
    student: student!,
    guardian,
    guardianId,
    link: link!,
    enrollment: enrollment!,
    schoolId: plan.schoolId,
    sessionId: plan.sessionId,
  };
}

async function insertGuardian(
  tx: Tx<TenantSchema>,
  tenantId: string,
  lead: Lead,
  name: { firstName: string; lastName: string },
): Promise<typeof t.guardians.$inferSelect> {
  const [guardian] = await mapDbErrors(() =>
    tx
      .insert(t.guardians)
      .values({
        tenantId,
        firstName: name.firstName,
        lastName: name.lastName,
        email: lead.email,
        phone: lead.phone,
      })
      .returning(),
  );
  return guardian!;
}

/** The school must be within the principal's reach for every record the conversion writes. */
async function checkReach(
  tx: Tx<TenantSchema>,
  principal: Principal,
  schoolId: string,
): Promise<void> {
  for (const permission of ['students.write', 'enrollments.write']) {
    const reach = await orgReach(tx, principal, permission);
    if (!reach.all && !reach.orgUnitIds.includes(schoolId))
      throw new ApiError('forbidden', 'The school is outside your reach.');
  }
}
