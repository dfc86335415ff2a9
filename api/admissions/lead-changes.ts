import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { Principal } from '../auth/principal.js';
import { orgReach } from '../auth/scope.js';
import { ApiError, type InvalidParam } from '../problems.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { mayOwnLead } from './owners.js';
import { findActiveSchool, offeredGrade } from './schools.js';

type LeadRow = typeof t.leads.$inferSelect;

/** A change of a lead; fields left out stay, `null` or `''` clears an optional one. */
export interface LeadChange {
  guardianName?: string;
  phone?: string | null;
  studentFirstName?: string | null;
  gradeInterest?: string | null;
  schoolId?: string | null;
  score?: number;
  ownerUserId?: string | null;
}

const orNull = (v: string | null | undefined) => (v ? v : null);

/** Column values for the change, after checking the school, grade and owner (422/403). */
async function changesOf(
  tx: Tx<TenantSchema>,
  principal: Principal,
  before: LeadRow,
  input: LeadChange,
): Promise<Partial<typeof t.leads.$inferInsert>> {
  const problems: InvalidParam[] = [];
  const values: Partial<typeof t.leads.$inferInsert> = {};
  if (input.guardianName !== undefined) values.guardianName = input.guardianName;
  if (input.phone !== undefined) values.phone = orNull(input.phone);
  if (input.studentFirstName !== undefined)
    values.studentFirstName = orNull(input.studentFirstName);
  if (input.score !== undefined) values.score = input.score;

  const schoolId = input.schoolId === undefined ? before.schoolId : input.schoolId;
  const school = schoolId ? await findActiveSchool(tx, schoolId) : null;
  if (input.schoolId !== undefined && input.schoolId !== before.schoolId) {
    if (input.schoolId && !school) {
      problems.push({ name: 'json.school_id', reason: 'not an active school' });
    } else {
      // The lead must stay within the caller's reach.
      const reach = await orgReach(tx, principal, 'leads.write');
      if (!reach.all && !(input.schoolId && reach.orgUnitIds.includes(input.schoolId)))
        throw new ApiError('forbidden', 'The lead would be outside your reach.');
      values.schoolId = input.schoolId;
    }
  }
  if (input.gradeInterest !== undefined) {
    const grade = orNull(input.gradeInterest);
    const offered = grade && school ? offeredGrade(school, grade) : grade;
    if (grade && !offered)
      problems.push({
        name: 'json.grade_interest',
        reason: `must be one of ${school!.gradeLevels.join(', ')}`,
      });
    values.gradeInterest = offered;
  }
  if (input.ownerUserId !== undefined) {
    const owner = input.ownerUserId;
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

/**
 * Changes a lead (loaded and locked by the caller) after checking the school, grade and
 * owner (unprocessable, naming each field as `json.…`) and that a new school keeps the
 * lead within the principal's reach (forbidden). Writes only the columns that change;
 * returns the lead after and the camelCase columns changed (none: nothing written).
 */
export async function updateLead(
  tx: Tx<TenantSchema>,
  args: { principal: Principal; lead: LeadRow; change: LeadChange },
): Promise<{ lead: LeadRow; changed: (keyof LeadRow)[] }> {
  const before = args.lead;
  const values = await changesOf(tx, args.principal, before, args.change);
  const changed = Object.entries(values).filter(
    ([key, value]) => before[key as keyof LeadRow] !== value,
  );
  if (changed.length === 0) return { lead: before, changed: [] };
  const [updated] = await tx
    .update(t.leads)
    .set(Object.fromEntries(changed))
    .where(eq(t.leads.id, before.id))
    .returning();
  return { lead: updated!, changed: changed.map(([key]) => key as keyof LeadRow) };
}
