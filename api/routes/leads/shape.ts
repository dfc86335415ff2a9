import { z } from '@hono/zod-openapi';
import { asc, eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { loadScoped, type Ctx, idParam } from '../../resources/crud.js';
import { orgOwned, scoped } from '../../resources/scopes.js';

/** A lead as staff see it, in lists and on its own. */
export const Lead = z
  .object({
    id: z.uuid(),
    guardian_name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    student_first_name: z.string().nullable(),
    grade_interest: z.string().nullable(),
    school_id: z.uuid().nullable(),
    stage: z.string(),
    score: z.number().int(),
    owner_user_id: z.uuid().nullable(),
    source: z.string().nullable(),
    lost_reason: z.string().nullable(),
    lost_at: z.string().nullable(),
    converted_student_id: z.uuid().nullable(),
    converted_at: z.string().nullable().describe('When the lead was converted into a student.'),
    consent: z.boolean(),
    first_touch_at: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Lead');

export type LeadRow = typeof t.leads.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function leadJson(lead: LeadRow): z.infer<typeof Lead> {
  return {
    id: lead.id,
    guardian_name: lead.guardianName,
    email: lead.email,
    phone: lead.phone,
    student_first_name: lead.studentFirstName,
    grade_interest: lead.gradeInterest,
    school_id: lead.schoolId,
    stage: lead.stage,
    score: lead.score,
    owner_user_id: lead.ownerUserId,
    source: lead.source,
    lost_reason: lead.lostReason,
    lost_at: iso(lead.lostAt),
    converted_student_id: lead.convertedStudentId,
    converted_at: iso(lead.convertedAt),
    consent: lead.consent,
    first_touch_at: lead.firstTouchAt.toISOString(),
    created_at: lead.createdAt.toISOString(),
    updated_at: lead.updatedAt.toISOString(),
  };
}

const Touchpoint = z
  .object({
    id: z.uuid(),
    kind: z.enum(t.TOUCHPOINT_KINDS),
    channel: z.string().nullable(),
    utm_source: z.string().nullable(),
    utm_medium: z.string().nullable(),
    utm_campaign: z.string().nullable(),
    utm_term: z.string().nullable(),
    utm_content: z.string().nullable(),
    referrer: z.string().nullable(),
    landing_page: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    occurred_at: z.string(),
  })
  .openapi('LeadTouchpoint');

const StageChange = z
  .object({
    id: z.uuid(),
    from_stage: z.string().nullable().describe('Null for the stage the lead started at.'),
    to_stage: z.string(),
    changed_by: z.uuid().nullable().describe('The staff user; null for the public website.'),
    changed_at: z.string(),
    note: z.string().nullable(),
  })
  .openapi('LeadStageChange');

export const LeadDetail = Lead.extend({
  message: z.string().nullable().describe('The latest message the family sent.'),
  touchpoints: z.array(Touchpoint).describe('Oldest first.'),
  stage_history: z.array(StageChange).describe('Oldest first.'),
}).openapi('LeadDetail');

export const IdParam = idParam('Lead');

export const LEAD_PERMISSIONS = { read: 'leads.read', write: 'leads.write' };

/**
 * Leads belong to their school of interest: org roles reach the leads of the schools
 * within their reach; a lead without a school needs tenant-wide reach.
 */
export const leadScope = scoped(LEAD_PERMISSIONS, orgOwned(t.leads.schoolId));

/** The lead with this id within the caller's scope (404 otherwise), optionally locked. */
export async function loadLead(
  c: Ctx,
  id: string,
  mode: 'read' | 'write',
  options: { lock?: boolean } = {},
): Promise<LeadRow> {
  return (await loadScoped(c, { table: t.leads, scope: leadScope }, id, mode, options)) as LeadRow;
}

/** The lead with its touchpoints and stage history, oldest first. */
export async function leadDetail(c: Ctx, lead: LeadRow): Promise<z.infer<typeof LeadDetail>> {
  const tx = c.get('tx');
  const touchpoints = await tx
    .select()
    .from(t.leadTouchpoints)
    .where(eq(t.leadTouchpoints.leadId, lead.id))
    .orderBy(
      asc(t.leadTouchpoints.occurredAt),
      asc(t.leadTouchpoints.createdAt),
      asc(t.leadTouchpoints.id),
    );
  const history = await tx
    .select()
    .from(t.leadStageHistory)
    .where(eq(t.leadStageHistory.leadId, lead.id))
    .orderBy(
      asc(t.leadStageHistory.changedAt),
      asc(t.leadStageHistory.createdAt),
      asc(t.leadStageHistory.id),
    );
  return {
    ...leadJson(lead),
    message: lead.message,
    touchpoints: touchpoints.map((p) => ({
      id: p.id,
      kind: p.kind as (typeof t.TOUCHPOINT_KINDS)[number],
      channel: p.channel,
      utm_source: p.utmSource,
      utm_medium: p.utmMedium,
      utm_campaign: p.utmCampaign,
      utm_term: p.utmTerm,
      utm_content: p.utmContent,
      referrer: p.referrer,
      landing_page: p.landingPage,
      details: (p.details as Record<string, unknown> | null) ?? null,
      occurred_at: p.occurredAt.toISOString(),
    })),
    stage_history: history.map((h) => ({
      id: h.id,
      from_stage: h.fromStage,
      to_stage: h.toStage,
      changed_by: h.changedBy,
      changed_at: h.changedAt.toISOString(),
      note: h.note,
    })),
  };
}
