import { inet, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { oneOf, tenantIndex, tenantKey, tenantPk } from './columns.js';

/**
 * Append-only log of every mutation. The app role may insert and read but never update or
 * delete (see db/sql/tenant-guards.sql). Actor and entity ids are not foreign keys: the
 * log must outlive what it describes.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    ...tenantKey,
    actorUserId: uuid('actor_user_id'),
    actorKind: text('actor_kind').notNull(),
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityId: uuid('entity_id'),
    before: jsonb('before'),
    after: jsonb('after'),
    requestId: text('request_id'),
    ip: inet('ip'),
    userAgent: text('user_agent'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    tenantPk('audit_log', t),
    tenantIndex('audit_log_entity_idx', t.tenantId, t.entityType, t.entityId, t.occurredAt),
    tenantIndex('audit_log_actor_idx', t.tenantId, t.actorUserId, t.occurredAt),
    tenantIndex('audit_log_occurred_idx', t.tenantId, t.occurredAt),
    oneOf('audit_log_actor_kind_check', t.actorKind, ['user', 'public', 'system', 'platform']),
  ],
);

/** FERPA record-access log: who read which student's record, when and through what. */
export const recordAccessLog = pgTable(
  'record_access_log',
  {
    ...tenantKey,
    userId: uuid('user_id').notNull(),
    studentId: uuid('student_id').notNull(),
    access: text('access').notNull(),
    route: text('route'),
    requestId: text('request_id'),
    ip: inet('ip'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    tenantPk('record_access_log', t),
    tenantIndex('record_access_log_student_idx', t.tenantId, t.studentId, t.occurredAt),
    tenantIndex('record_access_log_user_idx', t.tenantId, t.userId, t.occurredAt),
    oneOf('record_access_log_access_check', t.access, ['read', 'list', 'export', 'erase']),
  ],
);
