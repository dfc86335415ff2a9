import { and, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { entryStage, forwardMove, loadFunnelCached } from './funnel.js';

export type TouchpointKind = (typeof t.TOUCHPOINT_KINDS)[number];

/** What a family tells us about themselves; empty optional fields are null. */
export interface LeadContact {
  guardianName: string;
  email: string;
  phone: string | null;
  studentFirstName: string | null;
  gradeInterest: string | null;
  schoolId: string | null;
  message: string | null;
  consent: boolean;
}

/** Marketing attribution of one touch; empty fields are null. */
export interface Attribution {
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
  referrer: string | null;
  landingPage: string | null;
}

export interface LeadTouchInput {
  tenantId: string;
  contact: LeadContact;
  attribution: Attribution;
  kind: TouchpointKind;
  channel: string;
  /**
   * The stage this touch implies (a tour request: `tour_scheduled`). The lead moves there
   * only forward (see forwardMove); a new lead starts there instead of at the entry stage.
   */
  advanceTo?: string;
  /** Extra facts of this touch kept on the touchpoint (preferred tour times, …). */
  details?: Record<string, unknown>;
  /** The staff user behind the touch; null for the public website. */
  actorUserId?: string | null;
  /** Note on a stage-history row this touch writes. */
  note: string;
}

export interface LeadTouchResult {
  leadId: string;
  created: boolean;
  touchpointId: string;
  /** The lead's stage before this touch; null for a new lead. */
  stageBefore: string | null;
  stage: string;
}

/**
 * First-touch source of a lead: its utm_source, else the referrer's host, else `direct`.
 */
export function firstTouchSource(a: Attribution): string {
  const utm = a.utmSource?.trim().toLowerCase();
  if (utm) return utm;
  if (a.referrer) {
    try {
      const host = new URL(a.referrer).hostname.toLowerCase().replace(/^www\./, '');
      if (host) return host;
    } catch {
      // not a URL: fall through
    }
  }
  return 'direct';
}

/** Attempts at finding-or-creating the lead before giving up (a lead deleted mid-way). */
const ATTEMPTS = 3;

/**
 * Records a touch (an inquiry, a tour request, …) from a family, creating their lead when
 * the email (case-insensitively) is new to the tenant, inside the caller's transaction.
 *
 * Concurrency: the insert is `ON CONFLICT … DO NOTHING` on the partial unique index
 * `leads_email_key`, so two simultaneous first touches with one email wait on each other
 * in PostgreSQL and end as one lead; the loser then locks and updates the winner's row.
 *
 * An existing lead's fields take the latest non-empty values (contact details change and
 * the latest inquiry states the current interest); every touchpoint keeps what was sent,
 * so the history of those values is never lost. Source and first-touch time never change.
 */
export async function recordLeadTouch(
  tx: Tx<TenantSchema>,
  input: LeadTouchInput,
): Promise<LeadTouchResult> {
  const funnel = await loadFunnelCached(tx, input.tenantId);
  const entry = entryStage(funnel);
  const target = input.advanceTo ?? entry;
  const initial = target !== entry && forwardMove(funnel, entry, target) ? target : entry;
  const { contact } = input;

  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // A new lead, its first stage-history row and its touchpoint in one statement: the
    // common case costs one round trip. On a conflict nothing is inserted at all.
    const tp = touchpointOf(input);
    const inserted = rowsOf<{ lead_id: string; touchpoint_id: string }>(
      await tx.execute(sql`
        with lead as (
          insert into leads (tenant_id, guardian_name, email, phone, student_first_name,
                             grade_interest, school_id, stage, consent, message, source)
          values (${input.tenantId}, ${contact.guardianName}, ${contact.email}, ${contact.phone},
                  ${contact.studentFirstName}, ${contact.gradeInterest}, ${contact.schoolId},
                  ${initial}, ${contact.consent}, ${contact.message},
                  ${firstTouchSource(input.attribution)})
          on conflict (tenant_id, lower(email)) where deleted_at is null do nothing
          returning id
        ), moved as (
          insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, changed_by, note)
          select ${input.tenantId}, id, null, ${initial}, ${input.actorUserId ?? null}, ${input.note}
            from lead
        ), touch as (
          insert into lead_touchpoints (tenant_id, lead_id, kind, channel, utm_source, utm_medium,
                                        utm_campaign, utm_term, utm_content, referrer,
                                        landing_page, details)
          select ${input.tenantId}, id, ${tp.kind}, ${tp.channel}, ${tp.utmSource}, ${tp.utmMedium},
                 ${tp.utmCampaign}, ${tp.utmTerm}, ${tp.utmContent}, ${tp.referrer},
                 ${tp.landingPage}, ${JSON.stringify(tp.details)}::jsonb
            from lead
          returning id
        )
        select lead.id as lead_id, touch.id as touchpoint_id from lead, touch`),
    );
    if (inserted[0]) {
      const { lead_id: leadId, touchpoint_id: touchpointId } = inserted[0];
      return { leadId, created: true, touchpointId, stageBefore: null, stage: initial };
    }

    const [lead] = await tx
      .select({ id: t.leads.id, stage: t.leads.stage, lostReason: t.leads.lostReason })
      .from(t.leads)
      .where(and(sql`lower(${t.leads.email}) = lower(${contact.email})`, isNull(t.leads.deletedAt)))
      .for('update');
    // Deleted between our insert and this select: try inserting again.
    if (!lead) continue;

    const move = forwardMove(funnel, lead.stage, target);
    await tx
      .update(t.leads)
      .set({
        guardianName: contact.guardianName,
        ...(contact.phone ? { phone: contact.phone } : {}),
        ...(contact.studentFirstName ? { studentFirstName: contact.studentFirstName } : {}),
        ...(contact.gradeInterest ? { gradeInterest: contact.gradeInterest } : {}),
        ...(contact.schoolId ? { schoolId: contact.schoolId } : {}),
        ...(contact.message ? { message: contact.message } : {}),
        ...(contact.consent ? { consent: true } : {}),
        ...(move ? { stage: move.to } : {}),
        ...(move?.reopened ? { lostAt: null, lostReason: null } : {}),
      })
      .where(eq(t.leads.id, lead.id));
    if (move) await recordMove(tx, input, lead.id, move, lead.lostReason);
    const touchpointId = await addTouchpoint(tx, input, lead.id);
    return {
      leadId: lead.id,
      created: false,
      touchpointId,
      stageBefore: lead.stage,
      stage: move?.to ?? lead.stage,
    };
  }
  throw new Error('lead upsert did not converge');
}

async function recordMove(
  tx: Tx<TenantSchema>,
  input: LeadTouchInput,
  leadId: string,
  move: { from: string | null; to: string; reopened?: boolean },
  lostReason?: string | null,
): Promise<void> {
  // The lost reason is cleared on the lead when it reopens; the history keeps it.
  const note = move.reopened
    ? `${input.note}; reopened${lostReason ? ` (was lost: ${lostReason})` : ''}`
    : input.note;
  await tx.insert(t.leadStageHistory).values({
    tenantId: input.tenantId,
    leadId,
    fromStage: move.from,
    toStage: move.to,
    changedBy: input.actorUserId ?? null,
    note,
  });
}

/** The touchpoint row of a touch: what was sent, as it was sent. */
function touchpointOf(input: LeadTouchInput) {
  const { attribution: a, contact } = input;
  return {
    tenantId: input.tenantId,
    kind: input.kind,
    channel: input.channel,
    utmSource: a.utmSource,
    utmMedium: a.utmMedium,
    utmCampaign: a.utmCampaign,
    utmTerm: a.utmTerm,
    utmContent: a.utmContent,
    referrer: a.referrer,
    landingPage: a.landingPage,
    details: {
      guardian_name: contact.guardianName,
      phone: contact.phone,
      student_first_name: contact.studentFirstName,
      grade_interest: contact.gradeInterest,
      school_id: contact.schoolId,
      message: contact.message,
      ...input.details,
    },
  };
}

async function addTouchpoint(
  tx: Tx<TenantSchema>,
  input: LeadTouchInput,
  leadId: string,
): Promise<string> {
  const [row] = await tx
    .insert(t.leadTouchpoints)
    .values({ ...touchpointOf(input), leadId })
    .returning({ id: t.leadTouchpoints.id });
  return row!.id;
}
