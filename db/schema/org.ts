import { sql } from 'drizzle-orm';
import { boolean, date, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import {
  oneOf,
  rule,
  tenantFk,
  tenantIndex,
  tenantKey,
  tenantPk,
  timestamps,
  sourced,
  sourcedKey,
} from './columns.js';

export const ORG_UNIT_KINDS = [
  'network',
  'region',
  'district',
  'school',
  'microschool',
  'campus',
] as const;
/** Org unit kinds that are schools: they hold students, classes and enrollments. */
export const SCHOOL_KINDS = ['school', 'microschool', 'campus'] as const;

export const SESSION_KINDS = ['school_year', 'term', 'grading_period'] as const;
export const CALENDAR_DAY_KINDS = [
  'instructional',
  'holiday',
  'break',
  'teacher_workday',
  'weather_closure',
] as const;

/** The tenant's hierarchy: network › region › district › school › microschool/campus. */
export const orgUnits = pgTable(
  'org_units',
  {
    ...tenantKey,
    ...sourced,
    parentId: uuid('parent_id'),
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    code: text('code').notNull(),
    timezone: text('timezone'),
    gradeLevels: text('grade_levels')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    enrollmentOpen: boolean('enrollment_open').notNull().default(false),
    status: text('status').notNull().default('active'),
    address: jsonb('address'),
    phone: text('phone'),
    website: text('website'),
    ...timestamps,
  },
  (t) => [
    tenantPk('org_units', t),
    sourcedKey('org_units', t),
    tenantFk('org_units_parent_fk', t.tenantId, t.parentId, t),
    uniqueIndex('org_units_code_key')
      .on(t.tenantId, t.code)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('org_units_parent_idx', t.tenantId, t.parentId),
    oneOf('org_units_kind_check', t.kind, ORG_UNIT_KINDS),
    oneOf('org_units_status_check', t.status, ['active', 'inactive', 'closed']),
    rule('org_units_not_own_parent', sql`${t.parentId} is distinct from ${t.id}`),
  ],
);

/** School year › term › grading period, per org unit (a network shares one calendar year). */
export const academicSessions = pgTable(
  'academic_sessions',
  {
    ...tenantKey,
    ...sourced,
    orgUnitId: uuid('org_unit_id').notNull(),
    parentId: uuid('parent_id'),
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    startDate: date('start_date').notNull(),
    endDate: date('end_date').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('academic_sessions', t),
    sourcedKey('academic_sessions', t),
    tenantFk('academic_sessions_org_unit_fk', t.tenantId, t.orgUnitId, orgUnits),
    tenantFk('academic_sessions_parent_fk', t.tenantId, t.parentId, t),
    tenantIndex('academic_sessions_org_unit_idx', t.tenantId, t.orgUnitId, t.startDate),
    tenantIndex('academic_sessions_parent_idx', t.tenantId, t.parentId),
    oneOf('academic_sessions_kind_check', t.kind, SESSION_KINDS),
    rule('academic_sessions_dates_check', sql`${t.endDate} >= ${t.startDate}`),
  ],
);

/** One row per school per calendar date; membership days are the `instructional` ones. */
export const calendarDays = pgTable(
  'calendar_days',
  {
    ...tenantKey,
    schoolId: uuid('school_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    date: date('date').notNull(),
    kind: text('kind', { enum: CALENDAR_DAY_KINDS }).notNull().default('instructional'),
    note: text('note'),
    ...timestamps,
  },
  (t) => [
    tenantPk('calendar_days', t),
    tenantFk('calendar_days_school_fk', t.tenantId, t.schoolId, orgUnits),
    tenantFk('calendar_days_session_fk', t.tenantId, t.sessionId, academicSessions),
    uniqueIndex('calendar_days_school_date_key')
      .on(t.tenantId, t.schoolId, t.date)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('calendar_days_session_idx', t.tenantId, t.sessionId),
    oneOf('calendar_days_kind_check', t.kind, CALENDAR_DAY_KINDS),
  ],
);
