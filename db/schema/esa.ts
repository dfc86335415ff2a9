import { sql } from 'drizzle-orm';
import { date, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { oneOf, rule, tenantFk, tenantIndex, tenantKey, tenantPk, timestamps } from './columns.js';
import { academicSessions, orgUnits } from './org.js';
import { students } from './people.js';

export const ESA_APPLICATION_STATUSES = [
  'draft',
  'submitted',
  'under_review',
  'approved',
  'denied',
  'withdrawn',
] as const;
export type EsaApplicationStatus = (typeof ESA_APPLICATION_STATUSES)[number];

/** Education Savings Account programmes (state-funded), with their award amount. */
export const esaPrograms = pgTable(
  'esa_programs',
  {
    ...tenantKey,
    name: text('name').notNull(),
    state: text('state').notNull(),
    awardAmountCents: integer('award_amount_cents').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('esa_programs', t),
    uniqueIndex('esa_programs_name_key')
      .on(t.tenantId, t.state, t.name)
      .where(sql`${t.deletedAt} is null`),
    rule('esa_programs_state_check', sql`${t.state} ~ '^[A-Z]{2}$'`),
    rule('esa_programs_award_check', sql`${t.awardAmountCents} >= 0`),
  ],
);

export const esaApplications = pgTable(
  'esa_applications',
  {
    ...tenantKey,
    studentId: uuid('student_id').notNull(),
    programId: uuid('program_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    schoolId: uuid('school_id'),
    status: text('status').notNull().default('draft'),
    amountRequestedCents: integer('amount_requested_cents').notNull().default(0),
    amountAwardedCents: integer('amount_awarded_cents'),
    submittedAt: timestamp('submitted_at', { withTimezone: true }),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    decisionNote: text('decision_note'),
    ...timestamps,
  },
  (t) => [
    tenantPk('esa_applications', t),
    tenantFk('esa_applications_student_fk', t.tenantId, t.studentId, students),
    tenantFk('esa_applications_program_fk', t.tenantId, t.programId, esaPrograms),
    tenantFk('esa_applications_session_fk', t.tenantId, t.sessionId, academicSessions),
    tenantFk('esa_applications_school_fk', t.tenantId, t.schoolId, orgUnits),
    uniqueIndex('esa_applications_key')
      .on(t.tenantId, t.studentId, t.programId, t.sessionId)
      .where(sql`${t.deletedAt} is null and ${t.status} <> 'withdrawn'`),
    tenantIndex('esa_applications_status_idx', t.tenantId, t.status),
    tenantIndex('esa_applications_student_idx', t.tenantId, t.studentId),
    oneOf('esa_applications_status_check', t.status, ESA_APPLICATION_STATUSES),
    rule(
      'esa_applications_amounts_check',
      sql`${t.amountRequestedCents} >= 0 and (${t.amountAwardedCents} is null or ${t.amountAwardedCents} >= 0)`,
    ),
    rule(
      'esa_applications_submitted_check',
      sql`${t.status} in ('draft') or ${t.submittedAt} is not null or ${t.status} = 'withdrawn'`,
    ),
    rule(
      'esa_applications_decided_check',
      sql`(${t.status} in ('approved', 'denied')) = (${t.decidedAt} is not null)`,
    ),
    rule(
      'esa_applications_award_check',
      sql`${t.status} = 'approved' or ${t.amountAwardedCents} is null`,
    ),
  ],
);

export const esaDisbursements = pgTable(
  'esa_disbursements',
  {
    ...tenantKey,
    applicationId: uuid('application_id').notNull(),
    amountCents: integer('amount_cents').notNull(),
    scheduledOn: date('scheduled_on').notNull(),
    disbursedOn: date('disbursed_on'),
    status: text('status').notNull().default('scheduled'),
    reference: text('reference'),
    ...timestamps,
  },
  (t) => [
    tenantPk('esa_disbursements', t),
    tenantFk('esa_disbursements_application_fk', t.tenantId, t.applicationId, esaApplications),
    tenantIndex('esa_disbursements_application_idx', t.tenantId, t.applicationId),
    oneOf('esa_disbursements_status_check', t.status, [
      'scheduled',
      'disbursed',
      'returned',
      'cancelled',
    ]),
    rule('esa_disbursements_amount_check', sql`${t.amountCents} > 0`),
    rule(
      'esa_disbursements_disbursed_check',
      sql`(${t.status} in ('disbursed', 'returned')) = (${t.disbursedOn} is not null)`,
    ),
  ],
);
