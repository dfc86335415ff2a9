import { sql } from 'drizzle-orm';
import {
  boolean,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  createdAt,
  oneOf,
  rule,
  tenantFk,
  tenantIndex,
  tenantKey,
  tenantPk,
  timestamps,
} from './columns.js';
import { orgUnits } from './org.js';
import { students, users } from './people.js';

/** The default funnel; tenants may rename, add or reorder stages. `lost` is terminal. */
export const DEFAULT_FUNNEL_STAGES = [
  { key: 'inquiry', name: 'Inquiry' },
  { key: 'tour_scheduled', name: 'Tour scheduled' },
  { key: 'tour_completed', name: 'Tour completed' },
  { key: 'application_started', name: 'Application started' },
  { key: 'application_submitted', name: 'Application submitted' },
  { key: 'accepted', name: 'Accepted' },
  { key: 'enrolled', name: 'Enrolled' },
] as const;
export const LOST_STAGE = 'lost';
export const TOUCHPOINT_KINDS = [
  'inquiry',
  'tour_request',
  'tour_attended',
  'application',
  'email',
  'call',
  'event',
  'note',
] as const;

export const funnelStages = pgTable(
  'funnel_stages',
  {
    ...tenantKey,
    key: text('key').notNull(),
    name: text('name').notNull(),
    position: integer('position').notNull(),
    isTerminal: boolean('is_terminal').notNull().default(false),
    ...timestamps,
  },
  (t) => [
    tenantPk('funnel_stages', t),
    uniqueIndex('funnel_stages_key_key')
      .on(t.tenantId, t.key)
      .where(sql`${t.deletedAt} is null`),
    uniqueIndex('funnel_stages_position_key')
      .on(t.tenantId, t.position)
      .where(sql`${t.deletedAt} is null`),
    rule('funnel_stages_key_check', sql`${t.key} ~ '^[a-z][a-z0-9_]*$'`),
    rule('funnel_stages_position_check', sql`${t.position} >= 0`),
  ],
);

/**
 * A family's interest in enrolling a student. The same email within a tenant is the same
 * lead: a new inquiry adds a touchpoint instead of a second lead.
 */
export const leads = pgTable(
  'leads',
  {
    ...tenantKey,
    guardianName: text('guardian_name').notNull(),
    email: text('email').notNull(),
    phone: text('phone'),
    studentFirstName: text('student_first_name'),
    gradeInterest: text('grade_interest'),
    schoolId: uuid('school_id'),
    stage: text('stage').notNull().default('inquiry'),
    score: integer('score').notNull().default(0),
    ownerUserId: uuid('owner_user_id'),
    lostReason: text('lost_reason'),
    lostAt: timestamp('lost_at', { withTimezone: true }),
    convertedStudentId: uuid('converted_student_id'),
    /** When the lead was converted into a student record (set with `converted_student_id`). */
    convertedAt: timestamp('converted_at', { withTimezone: true }),
    consent: boolean('consent').notNull().default(false),
    message: text('message'),
    /** First-touch attribution, copied from the first touchpoint for filtering. */
    source: text('source'),
    firstTouchAt: timestamp('first_touch_at', { withTimezone: true }).notNull().defaultNow(),
    ...timestamps,
  },
  (t) => [
    tenantPk('leads', t),
    tenantFk('leads_school_fk', t.tenantId, t.schoolId, orgUnits),
    tenantFk('leads_owner_fk', t.tenantId, t.ownerUserId, users),
    tenantFk('leads_converted_student_fk', t.tenantId, t.convertedStudentId, students),
    uniqueIndex('leads_email_key')
      .on(t.tenantId, sql`lower(${t.email})`)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('leads_stage_idx', t.tenantId, t.stage),
    tenantIndex('leads_school_idx', t.tenantId, t.schoolId),
    tenantIndex('leads_source_idx', t.tenantId, t.source),
    tenantIndex('leads_first_touch_idx', t.tenantId, t.firstTouchAt),
    rule('leads_email_check', sql`position('@' in ${t.email}) > 1`),
    rule('leads_lost_check', sql`(${t.stage} = 'lost') = (${t.lostAt} is not null)`),
  ],
);

/** Append-only history of stage moves; a lead that skips stages records one move. */
export const leadStageHistory = pgTable(
  'lead_stage_history',
  {
    ...tenantKey,
    leadId: uuid('lead_id').notNull(),
    fromStage: text('from_stage'),
    toStage: text('to_stage').notNull(),
    changedBy: uuid('changed_by'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
    note: text('note'),
    ...createdAt,
  },
  (t) => [
    tenantPk('lead_stage_history', t),
    tenantFk('lead_stage_history_lead_fk', t.tenantId, t.leadId, leads).onDelete('cascade'),
    tenantFk('lead_stage_history_changed_by_fk', t.tenantId, t.changedBy, users),
    tenantIndex('lead_stage_history_lead_idx', t.tenantId, t.leadId, t.changedAt),
  ],
);

/** Every contact with a lead, with marketing attribution. */
export const leadTouchpoints = pgTable(
  'lead_touchpoints',
  {
    ...tenantKey,
    leadId: uuid('lead_id').notNull(),
    kind: text('kind').notNull(),
    channel: text('channel'),
    utmSource: text('utm_source'),
    utmMedium: text('utm_medium'),
    utmCampaign: text('utm_campaign'),
    utmTerm: text('utm_term'),
    utmContent: text('utm_content'),
    referrer: text('referrer'),
    landingPage: text('landing_page'),
    details: jsonb('details'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
    ...createdAt,
  },
  (t) => [
    tenantPk('lead_touchpoints', t),
    tenantFk('lead_touchpoints_lead_fk', t.tenantId, t.leadId, leads).onDelete('cascade'),
    tenantIndex('lead_touchpoints_lead_idx', t.tenantId, t.leadId, t.occurredAt),
    oneOf('lead_touchpoints_kind_check', t.kind, TOUCHPOINT_KINDS),
  ],
);

/**
 * Tours a school publishes for families to book on its website: a start, a length and a
 * number of seats. `booked` counts the seats taken; it is raised only by a conditional
 * update (`booked < capacity`), so two families racing for the last seat cannot both win.
 */
export const tourSlots = pgTable(
  'tour_slots',
  {
    ...tenantKey,
    schoolId: uuid('school_id').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    durationMinutes: integer('duration_minutes').notNull().default(60),
    capacity: integer('capacity').notNull(),
    booked: integer('booked').notNull().default(0),
    note: text('note'),
    ...timestamps,
  },
  (t) => [
    tenantPk('tour_slots', t),
    tenantFk('tour_slots_school_fk', t.tenantId, t.schoolId, orgUnits),
    tenantIndex('tour_slots_school_starts_idx', t.tenantId, t.schoolId, t.startsAt),
    rule('tour_slots_capacity_check', sql`${t.capacity} between 1 and 500`),
    rule('tour_slots_booked_check', sql`${t.booked} between 0 and ${t.capacity}`),
    rule('tour_slots_duration_check', sql`${t.durationMinutes} between 5 and 480`),
  ],
);

/**
 * A family's seat on a tour slot: the lead, the slot and the touchpoint of the booking. A
 * row of its own (not only the slot id in the touchpoint's details) so that a slot's list of
 * families is a keyed query, both ends are foreign keys, and one family holds one seat per
 * slot (a repeat booking is the same seat).
 */
export const tourBookings = pgTable(
  'tour_bookings',
  {
    ...tenantKey,
    slotId: uuid('slot_id').notNull(),
    leadId: uuid('lead_id').notNull(),
    touchpointId: uuid('touchpoint_id'),
    ...createdAt,
  },
  (t) => [
    tenantPk('tour_bookings', t),
    tenantFk('tour_bookings_slot_fk', t.tenantId, t.slotId, tourSlots),
    tenantFk('tour_bookings_lead_fk', t.tenantId, t.leadId, leads).onDelete('cascade'),
    uniqueIndex('tour_bookings_slot_lead_key').on(t.tenantId, t.slotId, t.leadId),
    tenantIndex('tour_bookings_lead_idx', t.tenantId, t.leadId),
  ],
);

/**
 * Stored responses for `Idempotency-Key`: same key and same request hash → the stored
 * response; same key with another hash → 422. Written once, in the transaction of the
 * request it answers, so a key never exists without its committed effects.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    ...tenantKey,
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    responseStatus: integer('response_status').notNull(),
    responseBody: jsonb('response_body').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    ...createdAt,
  },
  (t) => [
    tenantPk('idempotency_keys', t),
    unique('idempotency_keys_key').on(t.tenantId, t.scope, t.key),
    tenantIndex('idempotency_keys_expires_idx', t.tenantId, t.expiresAt),
    rule('idempotency_keys_key_check', sql`length(${t.key}) between 1 and 255`),
  ],
);
