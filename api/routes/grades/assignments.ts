import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, gte, isNull, lte } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ASSIGNMENT_CATEGORIES } from '../../../db/schema/grades.js';
import type { AppEnv } from '../../app-env.js';
import { classRules } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';
import { scoped } from '../../resources/scopes.js';
import { classScope, GRADE_PERMISSIONS } from './shared.js';

const Assignment = z
  .object({
    id: z.uuid(),
    class_id: z.uuid(),
    title: z.string(),
    category: z.enum(ASSIGNMENT_CATEGORIES),
    points_possible: z.number(),
    weight: z.number(),
    assigned_date: z.string().nullable().describe('YYYY-MM-DD'),
    due_date: z.string().describe('YYYY-MM-DD'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Assignment');

const fields = {
  title: z.string().trim().min(1).max(200),
  category: z.enum(ASSIGNMENT_CATEGORIES),
  points_possible: z.number().positive().max(99999.99),
  weight: z
    .number()
    .min(0)
    .max(999.99)
    .openapi({ description: 'Relative weight in the class percentage; default 1.' }),
  assigned_date: z.iso.date().nullable(),
  due_date: z.iso.date(),
};

const AssignmentCreate = z
  .object({
    class_id: z.uuid(),
    title: fields.title,
    category: fields.category,
    points_possible: fields.points_possible,
    weight: fields.weight.optional(),
    assigned_date: fields.assigned_date.optional(),
    due_date: fields.due_date,
  })
  .openapi('AssignmentCreate');

const AssignmentUpdate = z
  .object({
    title: fields.title.optional(),
    category: fields.category.optional(),
    points_possible: fields.points_possible.optional(),
    weight: fields.weight.optional(),
    assigned_date: fields.assigned_date.optional(),
    due_date: fields.due_date.optional(),
  })
  .openapi('AssignmentUpdate');

const AssignmentFilters = z.object({
  class_id: z.uuid().optional(),
  category: z.enum(ASSIGNMENT_CATEGORIES).optional(),
  due_from: z.iso.date().optional().openapi({ description: 'Due on or after (YYYY-MM-DD).' }),
  due_to: z.iso.date().optional().openapi({ description: 'Due on or before (YYYY-MM-DD).' }),
});

const unprocessable = (name: string, reason: string) =>
  new ApiError('unprocessable', reason, { invalidParams: [{ name, reason }] });

function checkDates(assigned: string | null | undefined, due: string): void {
  if (assigned && assigned > due)
    throw unprocessable('assigned_date', 'The assigned date is after the due date.');
}

/** The class must exist and be one whose grades the caller may write; either way alike. */
async function checkClass(c: Ctx, classId: string): Promise<void> {
  const [found] = await c
    .get('tx')
    .select({ id: t.classes.id })
    .from(t.classes)
    .where(
      and(eq(t.classes.id, classId), isNull(t.classes.deletedAt), await classScope(c, 'write')),
    );
  if (!found) throw unprocessable('class_id', 'No such class within your reach.');
}

export const assignmentResource: ResourceDef<
  typeof AssignmentCreate,
  typeof AssignmentUpdate,
  typeof AssignmentFilters
> = {
  entity: 'assignment',
  path: '/v1/assignments',
  tag: 'Grades',
  plural: 'assignments',
  table: t.assignments,
  permissions: GRADE_PERMISSIONS,
  schemas: {
    out: Assignment,
    create: AssignmentCreate,
    update: AssignmentUpdate,
    filters: AssignmentFilters,
  },
  scope: scoped(GRADE_PERMISSIONS, classRules(t.assignments.classId)),
  order: { column: t.assignments.dueDate, direction: 'asc' },
  filters: (q) => {
    const a = t.assignments;
    return [
      q.class_id ? eq(a.classId, q.class_id) : undefined,
      q.category ? eq(a.category, q.category) : undefined,
      q.due_from ? gte(a.dueDate, q.due_from) : undefined,
      q.due_to ? lte(a.dueDate, q.due_to) : undefined,
    ];
  },
  prepareCreate: async (c, input) => {
    await checkClass(c, input.class_id);
    checkDates(input.assigned_date, input.due_date);
    return jsonToValues(input, t.assignments);
  },
  prepareUpdate: async (c, input, before) => {
    checkDates(
      input.assigned_date === undefined
        ? (before.assignedDate as string | null)
        : input.assigned_date,
      input.due_date ?? (before.dueDate as string),
    );
    return jsonToValues(input, t.assignments);
  },
  descriptions: {
    list: 'Assignments of the classes whose grades the caller reaches: their school(s) for staff, their own classes for teachers, their children’s classes for parents, their own classes for a student. Filter by class and due date range.',
    create:
      'The class must be one whose grades the caller may write (422 otherwise, whether or not it exists).',
    update:
      'The class cannot change. `points_possible` may go below an existing score: points above it are extra credit.',
    delete: 'Soft delete: the assignment and its scores stop counting in percentages.',
  },
};

export function registerAssignments(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, assignmentResource);
}
