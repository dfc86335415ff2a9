import { sql } from 'drizzle-orm';
import { date, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { oneOf, tenantFk, tenantIndex, tenantKey, tenantPk, timestamps } from './columns.js';
import { classes } from './academic.js';
import { orgUnits } from './org.js';
import { students, users } from './people.js';

export const ATTENDANCE_STATUSES = [
  'present',
  'absent',
  'tardy',
  'excused_absence',
  'early_departure',
] as const;
export type AttendanceStatus = (typeof ATTENDANCE_STATUSES)[number];

/**
 * One record per student per school day, and optionally per period (null = the whole day).
 * Upserts target the unique index with `coalesce(period, '')`, so a day-level record is
 * unique too.
 */
export const attendanceRecords = pgTable(
  'attendance_records',
  {
    ...tenantKey,
    studentId: uuid('student_id').notNull(),
    schoolId: uuid('school_id').notNull(),
    classId: uuid('class_id'),
    date: date('date').notNull(),
    period: text('period'),
    status: text('status', { enum: ATTENDANCE_STATUSES }).notNull(),
    reason: text('reason'),
    note: text('note'),
    markedBy: uuid('marked_by'),
    markedAt: timestamp('marked_at', { withTimezone: true }).notNull().defaultNow(),
    ...timestamps,
  },
  (t) => [
    tenantPk('attendance_records', t),
    tenantFk('attendance_records_student_fk', t.tenantId, t.studentId, students),
    tenantFk('attendance_records_school_fk', t.tenantId, t.schoolId, orgUnits),
    tenantFk('attendance_records_class_fk', t.tenantId, t.classId, classes),
    tenantFk('attendance_records_marked_by_fk', t.tenantId, t.markedBy, users),
    uniqueIndex('attendance_records_key')
      .on(t.tenantId, t.studentId, t.date, sql`coalesce(${t.period}, '')`)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('attendance_records_school_date_idx', t.tenantId, t.schoolId, t.date),
    tenantIndex('attendance_records_class_date_idx', t.tenantId, t.classId, t.date),
    oneOf('attendance_records_status_check', t.status, ATTENDANCE_STATUSES),
  ],
);
