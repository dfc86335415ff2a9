import type { TableSource } from '../copy.js';
import { planAssignments, scoreOutcomes } from '../gradebook.js';
import { IdSequence } from '../random.js';
import { Table } from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * The gradebook's rows: each class's assignments and the scores graded up to as-of (the
 * plan and outcomes come from db/seed/gradebook.ts).
 */

function assignments(t: TableContext): TableSource {
  const { world, ts, date } = t;
  const A = world.preset.assignmentsPerTerm;
  return {
    table: 'assignments',
    columns: [
      'id',
      'class_id',
      'title',
      'category',
      'points_possible',
      'weight',
      'assigned_date',
      'due_date',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const c of world.classes) {
        for (const p of planAssignments(world, c, A)) {
          const at = ts(p.createdMs);
          yield [
            p.id,
            c.id,
            p.title,
            p.category,
            p.points,
            p.weight,
            date(p.assignedDay),
            date(p.dueDay),
            at,
            at,
          ];
        }
      }
    },
  };
}

function scores(t: TableContext): TableSource {
  const { world, ts } = t;
  const { students } = world;
  const A = world.preset.assignmentsPerTerm;
  return {
    table: 'scores',
    columns: [
      'id',
      'assignment_id',
      'student_id',
      'points',
      'is_late',
      'is_missing',
      'is_excused',
      'comment',
      'graded_by',
      'graded_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(
        world.ids(
          Table.score,
          world.classes.reduce((n, c) => n + c.students.length * A, 0),
        ),
      );
      for (const c of world.classes) {
        const plans = planAssignments(world, c, A);
        const primary = c.teachers.find((t) => t.role === 'primary');
        const grader = primary ? world.staff[primary.staffIdx]!.userId : null;
        for (const o of scoreOutcomes(world, c, plans)) {
          const graded = o.gradedMs === null ? null : ts(o.gradedMs);
          const created = ts(o.createdMs);
          yield [
            ids.next(),
            plans[o.assignment]!.id,
            students[c.students[o.roster]!]!.id,
            o.points,
            o.late,
            o.missing,
            o.excused,
            o.comment,
            graded === null ? null : grader,
            graded,
            created,
            graded ?? created,
          ];
        }
      }
    },
  };
}

/** The grades tables, in foreign-key order. */
export function gradeTables(t: TableContext): TableSource[] {
  return [assignments(t), scores(t)];
}
