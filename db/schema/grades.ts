import { sql } from 'drizzle-orm';
import {
  boolean,
  date,
  numeric,
  pgTable,
  text,
  timestamp,
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
import { classes } from './academic.js';
import { students, users } from './people.js';

export const ASSIGNMENT_CATEGORIES = [
  'homework',
  'classwork',
  'quiz',
  'test',
  'project',
  'participation',
  'final',
] as const;

/** A gradebook line item of a class. */
export const assignments = pgTable(
  'assignments',
  {
    ...tenantKey,
    ...sourced,
    classId: uuid('class_id').notNull(),
    title: text('title').notNull(),
    category: text('category', { enum: ASSIGNMENT_CATEGORIES }).notNull(),
    pointsPossible: numeric('points_possible', {
      precision: 7,
      scale: 2,
      mode: 'number',
    }).notNull(),
    weight: numeric('weight', { precision: 5, scale: 2, mode: 'number' }).notNull().default(1),
    assignedDate: date('assigned_date'),
    dueDate: date('due_date').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('assignments', t),
    sourcedKey('assignments', t),
    tenantFk('assignments_class_fk', t.tenantId, t.classId, classes),
    tenantIndex('assignments_class_due_idx', t.tenantId, t.classId, t.dueDate),
    oneOf('assignments_category_check', t.category, ASSIGNMENT_CATEGORIES),
    rule('assignments_points_check', sql`${t.pointsPossible} > 0`),
    rule('assignments_weight_check', sql`${t.weight} >= 0`),
  ],
);

/** A student's result on an assignment; points null while ungraded or when excused. */
export const scores = pgTable(
  'scores',
  {
    ...tenantKey,
    ...sourced,
    assignmentId: uuid('assignment_id').notNull(),
    studentId: uuid('student_id').notNull(),
    points: numeric('points', { precision: 7, scale: 2, mode: 'number' }),
    isLate: boolean('is_late').notNull().default(false),
    isMissing: boolean('is_missing').notNull().default(false),
    isExcused: boolean('is_excused').notNull().default(false),
    comment: text('comment'),
    gradedBy: uuid('graded_by'),
    gradedAt: timestamp('graded_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    tenantPk('scores', t),
    sourcedKey('scores', t),
    tenantFk('scores_assignment_fk', t.tenantId, t.assignmentId, assignments).onDelete('cascade'),
    tenantFk('scores_student_fk', t.tenantId, t.studentId, students),
    tenantFk('scores_graded_by_fk', t.tenantId, t.gradedBy, users),
    uniqueIndex('scores_key')
      .on(t.tenantId, t.assignmentId, t.studentId)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('scores_student_idx', t.tenantId, t.studentId),
    rule('scores_points_check', sql`${t.points} is null or ${t.points} >= 0`),
    rule('scores_excused_check', sql`not (${t.isExcused} and ${t.isMissing})`),
  ],
);
