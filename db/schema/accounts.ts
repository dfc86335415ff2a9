import { integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import {
  createdAt,
  oneOf,
  tenantFk,
  tenantIndex,
  tenantKey,
  tenantPk,
  timestamps,
} from './columns.js';
import { orgUnits } from './org.js';
import { guardians, roles, users } from './people.js';

/**
 * The account life cycle: mail waiting to leave (the outbox and its delivery log),
 * invitations and password resets. Tokens are stored as SHA-256 hashes only.
 */

export const MAIL_TEMPLATES = ['invitation', 'password_reset', 'password_changed'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];
/** queued → sending → sent, or back to queued for a retry, or failed for good. */
export const OUTBOX_STATUSES = ['queued', 'sending', 'sent', 'failed'] as const;
export const DELIVERY_EVENTS = ['queued', 'sent', 'retry', 'failed'] as const;
export const INVITATION_KINDS = ['staff', 'guardian'] as const;

/**
 * Mail written in the transaction of the event that causes it: it leaves only if the event
 * committed, and stays here until delivered, whatever happens to the queue. `payload` holds
 * the template's values; the link in it (the only secret) is removed once the mail is sent.
 */
export const outbox = pgTable(
  'outbox',
  {
    ...tenantKey,
    template: text('template').notNull(),
    toAddress: text('to_address').notNull(),
    toName: text('to_name'),
    fromName: text('from_name').notNull(),
    replyTo: text('reply_to'),
    payload: jsonb('payload').notNull(),
    status: text('status').notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    claimedAt: timestamp('claimed_at', { withTimezone: true }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    messageId: text('message_id'),
    ...timestamps,
  },
  (t) => [
    tenantPk('outbox', t),
    tenantIndex('outbox_status_idx', t.tenantId, t.status, t.createdAt),
    oneOf('outbox_template_check', t.template, MAIL_TEMPLATES),
    oneOf('outbox_status_check', t.status, OUTBOX_STATUSES),
  ],
);

/** What happened to each mail: queued, sent, a retry and its reason, failed for good. */
export const mailDeliveries = pgTable(
  'mail_deliveries',
  {
    ...tenantKey,
    outboxId: uuid('outbox_id').notNull(),
    event: text('event').notNull(),
    attempt: integer('attempt').notNull().default(0),
    detail: text('detail'),
    ...createdAt,
  },
  (t) => [
    tenantPk('mail_deliveries', t),
    tenantFk('mail_deliveries_outbox_fk', t.tenantId, t.outboxId, outbox).onDelete('cascade'),
    tenantIndex('mail_deliveries_outbox_idx', t.tenantId, t.outboxId, t.createdAt),
    oneOf('mail_deliveries_event_check', t.event, DELIVERY_EVENTS),
  ],
);

/**
 * An invitation to set a password and sign in: single-use, expiring; re-sending replaces
 * the token (the old link stops working). `org_unit_id` is where it was issued — the staff
 * grant's org unit, or the guardian's school — and scopes who may see, re-send or revoke it
 * (null: tenant-wide, for tenant-wide admins only).
 */
export const invitations = pgTable(
  'invitations',
  {
    ...tenantKey,
    userId: uuid('user_id').notNull(),
    email: text('email').notNull(),
    kind: text('kind').notNull(),
    roleId: uuid('role_id'),
    orgUnitId: uuid('org_unit_id'),
    guardianId: uuid('guardian_id'),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    invitedBy: uuid('invited_by'),
    sentCount: integer('sent_count').notNull().default(1),
    lastSentAt: timestamp('last_sent_at', { withTimezone: true }).notNull().defaultNow(),
    ...timestamps,
  },
  (t) => [
    tenantPk('invitations', t),
    tenantFk('invitations_user_fk', t.tenantId, t.userId, users).onDelete('cascade'),
    tenantFk('invitations_role_fk', t.tenantId, t.roleId, roles),
    tenantFk('invitations_org_unit_fk', t.tenantId, t.orgUnitId, orgUnits),
    tenantFk('invitations_guardian_fk', t.tenantId, t.guardianId, guardians),
    uniqueIndex('invitations_token_key').on(t.tenantId, t.tokenHash),
    tenantIndex('invitations_user_idx', t.tenantId, t.userId),
    tenantIndex('invitations_org_unit_idx', t.tenantId, t.orgUnitId, t.createdAt),
    oneOf('invitations_kind_check', t.kind, INVITATION_KINDS),
  ],
);

/** A password-reset token: single-use, 30 minutes. */
export const passwordResets = pgTable(
  'password_resets',
  {
    ...tenantKey,
    userId: uuid('user_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    tenantPk('password_resets', t),
    tenantFk('password_resets_user_fk', t.tenantId, t.userId, users).onDelete('cascade'),
    uniqueIndex('password_resets_token_key').on(t.tenantId, t.tokenHash),
    tenantIndex('password_resets_user_idx', t.tenantId, t.userId),
  ],
);
