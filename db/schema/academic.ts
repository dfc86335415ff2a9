import { sql } from 'drizzle-orm';
import {
  boolean,
  date,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
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
import { academicSessions, orgUnits } from './org.js';
import { staff, students } from './people.js';

export const CLASS_ENROLLMENT_STATUSES = ['active', 'dropped', 'completed', 'withdrawn'] as const;
export const SCHOOL_ENROLLMENT_STATUSES = [
  'active',
  'withdrawn',
  'transferred',
  'graduated',
  'completed',
] as const;

export const courses = pgTable(
  'courses',
  {
    ...tenantKey,
    ...sourced,
    orgUnitId: uuid('org_unit_id'),
    code: text('code').notNull(),
    name: text('name').notNull(),
    subject: text('subject').notNull(),
    credits: numeric('credits', { precision: 4, scale: 2, mode: 'number' }).notNull().default(1),
    gradeLevels: text('grade_levels')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    description: text('description'),
    ...timestamps,
  },
  (t) => [
    tenantPk('courses', t),
    sourcedKey('courses', t),
    tenantFk('courses_org_unit_fk', t.tenantId, t.orgUnitId, orgUnits),
    uniqueIndex('courses_code_key')
      .on(t.tenantId, t.code)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('courses_subject_idx', t.tenantId, t.subject),
    rule('courses_credits_check', sql`${t.credits} >= 0`),
  ],
);

/** Grading scales: bands of `{ letter, min_percent, points }`; one per tenant is the default. */
export const gradingScales = pgTable(
  'grading_scales',
  {
    ...tenantKey,
    name: text('name').notNull(),
    isDefault: boolean('is_default').notNull().default(false),
    bands: jsonb('bands').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('grading_scales', t),
    uniqueIndex('grading_scales_default_key')
      .on(t.tenantId)
      .where(sql`${t.isDefault} and ${t.deletedAt} is null`),
    rule('grading_scales_bands_check', sql`jsonb_typeof(${t.bands}) = 'array'`),
  ],
);

/** A section of a course in a term at a school. */
export const classes = pgTable(
  'classes',
  {
    ...tenantKey,
    ...sourced,
    courseId: uuid('course_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    schoolId: uuid('school_id').notNull(),
    section: text('section').notNull(),
    name: text('name').notNull(),
    room: text('room'),
    schedule: jsonb('schedule'),
    capacity: integer('capacity'),
    gradingScaleId: uuid('grading_scale_id'),
    status: text('status').notNull().default('active'),
    ...timestamps,
  },
  (t) => [
    tenantPk('classes', t),
    sourcedKey('classes', t),
    tenantFk('classes_course_fk', t.tenantId, t.courseId, courses),
    tenantFk('classes_session_fk', t.tenantId, t.sessionId, academicSessions),
    tenantFk('classes_school_fk', t.tenantId, t.schoolId, orgUnits),
    tenantFk('classes_grading_scale_fk', t.tenantId, t.gradingScaleId, gradingScales),
    uniqueIndex('classes_section_key')
      .on(t.tenantId, t.courseId, t.sessionId, t.schoolId, t.section)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('classes_school_session_idx', t.tenantId, t.schoolId, t.sessionId),
    oneOf('classes_status_check', t.status, ['active', 'cancelled', 'completed']),
    rule('classes_capacity_check', sql`${t.capacity} is null or ${t.capacity} > 0`),
  ],
);

export const classTeachers = pgTable(
  'class_teachers',
  {
    ...tenantKey,
    ...sourced,
    classId: uuid('class_id').notNull(),
    staffId: uuid('staff_id').notNull(),
    role: text('role').notNull().default('primary'),
    ...timestamps,
  },
  (t) => [
    tenantPk('class_teachers', t),
    sourcedKey('class_teachers', t),
    tenantFk('class_teachers_class_fk', t.tenantId, t.classId, classes).onDelete('cascade'),
    tenantFk('class_teachers_staff_fk', t.tenantId, t.staffId, staff),
    uniqueIndex('class_teachers_key')
      .on(t.tenantId, t.classId, t.staffId)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('class_teachers_staff_idx', t.tenantId, t.staffId),
    oneOf('class_teachers_role_check', t.role, ['primary', 'co_teacher', 'aide']),
  ],
);

export const classEnrollments = pgTable(
  'class_enrollments',
  {
    ...tenantKey,
    ...sourced,
    classId: uuid('class_id').notNull(),
    studentId: uuid('student_id').notNull(),
    status: text('status', { enum: CLASS_ENROLLMENT_STATUSES }).notNull().default('active'),
    entryDate: date('entry_date').notNull(),
    exitDate: date('exit_date'),
    finalPercent: numeric('final_percent', { precision: 5, scale: 2, mode: 'number' }),
    finalGrade: text('final_grade'),
    gradePoints: numeric('grade_points', { precision: 3, scale: 2, mode: 'number' }),
    creditsAttempted: numeric('credits_attempted', { precision: 4, scale: 2, mode: 'number' }),
    creditsEarned: numeric('credits_earned', { precision: 4, scale: 2, mode: 'number' }),
    ...timestamps,
  },
  (t) => [
    tenantPk('class_enrollments', t),
    sourcedKey('class_enrollments', t),
    tenantFk('class_enrollments_class_fk', t.tenantId, t.classId, classes),
    tenantFk('class_enrollments_student_fk', t.tenantId, t.studentId, students),
    uniqueIndex('class_enrollments_key')
      .on(t.tenantId, t.classId, t.studentId)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('class_enrollments_student_idx', t.tenantId, t.studentId),
    oneOf('class_enrollments_status_check', t.status, CLASS_ENROLLMENT_STATUSES),
    rule(
      'class_enrollments_dates_check',
      sql`${t.exitDate} is null or ${t.exitDate} >= ${t.entryDate}`,
    ),
    rule(
      'class_enrollments_points_check',
      sql`${t.gradePoints} is null or ${t.gradePoints} between 0 and 5`,
    ),
    rule(
      'class_enrollments_percent_check',
      sql`${t.finalPercent} is null or ${t.finalPercent} between 0 and 200`,
    ),
  ],
);

/** Student × school × school year with entry/exit dates: the basis of attendance membership. */
export const schoolEnrollments = pgTable(
  'school_enrollments',
  {
    ...tenantKey,
    ...sourced,
    studentId: uuid('student_id').notNull(),
    schoolId: uuid('school_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    gradeLevel: text('grade_level').notNull(),
    status: text('status').notNull().default('active'),
    entryDate: date('entry_date').notNull(),
    exitDate: date('exit_date'),
    exitReason: text('exit_reason'),
    ...timestamps,
  },
  (t) => [
    tenantPk('school_enrollments', t),
    sourcedKey('school_enrollments', t),
    tenantFk('school_enrollments_student_fk', t.tenantId, t.studentId, students),
    tenantFk('school_enrollments_school_fk', t.tenantId, t.schoolId, orgUnits),
    tenantFk('school_enrollments_session_fk', t.tenantId, t.sessionId, academicSessions),
    uniqueIndex('school_enrollments_key')
      .on(t.tenantId, t.studentId, t.schoolId, t.sessionId, t.entryDate)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('school_enrollments_school_idx', t.tenantId, t.schoolId, t.sessionId),
    tenantIndex('school_enrollments_student_idx', t.tenantId, t.studentId),
    oneOf('school_enrollments_status_check', t.status, SCHOOL_ENROLLMENT_STATUSES),
    rule(
      'school_enrollments_dates_check',
      sql`${t.exitDate} is null or ${t.exitDate} >= ${t.entryDate}`,
    ),
  ],
);
