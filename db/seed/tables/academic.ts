import { DEFAULT_GRADING_SCALE } from '../../tenant-defaults.js';
import type { TableSource } from '../copy.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../dates.js';
import { planAssignments, scoreOutcomes } from '../gradebook.js';
import { IdSequence } from '../random.js';
import {
  atMost,
  CLASS_STATUS_NAMES,
  type ClassSection,
  ClassStatus,
  GRADE_LABELS,
  Table,
  type World,
} from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * Academics: courses, class sections and their teachers, school enrollments per year and
 * class rosters (with final grades once a term is over, from the gradebook).
 */

/** A class's term, the term's last instructional day, and when the class was set up. */
function classDays(world: World) {
  const { schools, years } = world;
  const termOf = (c: ClassSection) => years[c.yearIdx]!.terms[c.termIdx]!;
  const termLast = (c: ClassSection) => {
    const days = schools[c.schoolIdx]!.calendars[c.yearIdx]!.termDays[c.termIdx]!;
    return days[days.length - 1]!;
  };
  const classCreated = (c: ClassSection) =>
    atMost(world, (termOf(c).startDay - 20) * DAY_MS + 18 * HOUR_MS);
  return { termOf, termLast, classCreated };
}

function courses(t: TableContext): TableSource {
  const { world, refs, ts } = t;
  return {
    table: 'courses',
    columns: [
      'id',
      'org_unit_id',
      'code',
      'name',
      'subject',
      'credits',
      'grade_levels',
      'description',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const c of world.courses) {
        const at = ts(world.setupMs + (120 + c.idx) * MINUTE_MS);
        const grades = c.grades.map((g) => GRADE_LABELS[g]!);
        const description = `${c.name} for grade${grades.length > 1 ? 's' : ''} ${grades.length > 1 ? `${grades[0]}–${grades[grades.length - 1]}` : grades[0]}.`;
        yield [
          c.id,
          refs.rootOrgUnitId,
          c.code,
          c.name,
          c.subject,
          c.credits,
          grades,
          description,
          at,
          at,
        ];
      }
    },
  };
}

function classes(t: TableContext): TableSource {
  const { world, ts } = t;
  const { schools } = world;
  const { termOf, termLast, classCreated } = classDays(world);
  return {
    table: 'classes',
    columns: [
      'id',
      'course_id',
      'session_id',
      'school_id',
      'section',
      'name',
      'room',
      'schedule',
      'capacity',
      'grading_scale_id',
      'status',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const c of world.classes) {
        const course = world.courses[c.courseIdx]!;
        const start = 8 * 60 + (c.period - 1) * 55;
        const hm = (m: number) =>
          `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const schedule = JSON.stringify({
          days: ['mon', 'tue', 'wed', 'thu', 'fri'],
          period: c.period,
          start: hm(start),
          end: hm(start + 50),
        });
        const over = termLast(c) <= world.asOf;
        const created = classCreated(c);
        const updated = over ? atMost(world, (termLast(c) + 3) * DAY_MS + 20 * HOUR_MS) : created;
        yield [
          c.id,
          course.id,
          termOf(c).id,
          schools[c.schoolIdx]!.id,
          c.section,
          `${course.name} – ${c.section}`,
          c.room,
          schedule,
          c.capacity,
          null,
          over ? 'completed' : 'active',
          ts(created),
          ts(updated),
        ];
      }
    },
  };
}

function classTeachers(t: TableContext): TableSource {
  const { world, ts } = t;
  const { classCreated } = classDays(world);
  return {
    table: 'class_teachers',
    columns: ['id', 'class_id', 'staff_id', 'role', 'created_at', 'updated_at'],
    *rows() {
      const ids = new IdSequence(world.ids(Table.classTeacher, world.classes.length * 1.2 + 10));
      for (const c of world.classes) {
        const at = ts(classCreated(c));
        for (const t of c.teachers)
          yield [ids.next(), c.id, world.staff[t.staffIdx]!.id, t.role, at, at];
      }
    },
  };
}

function schoolEnrollments(t: TableContext): TableSource {
  const { world, ts, date, dateOrNull } = t;
  const { schools, students, years } = world;
  return {
    table: 'school_enrollments',
    columns: [
      'id',
      'student_id',
      'school_id',
      'session_id',
      'grade_level',
      'status',
      'entry_date',
      'exit_date',
      'exit_reason',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.schoolEnrollment, students.length * 2));
      for (const s of students) {
        for (let y = 0; y < 2; y++) {
          const e = s.enroll[y];
          if (!e) continue;
          const created = atMost(
            world,
            Math.max(
              s.createdMs,
              (Math.min(e.entryDay, years[y]!.startDay) - 14) * DAY_MS + 16 * HOUR_MS,
            ),
          );
          const updated =
            e.exitDay >= 0
              ? atMost(world, Math.max(created, e.exitDay * DAY_MS + 22 * HOUR_MS))
              : created;
          yield [
            ids.next(),
            s.id,
            schools[e.schoolIdx]!.id,
            years[y]!.id,
            GRADE_LABELS[e.grade]!,
            e.status,
            date(e.entryDay),
            dateOrNull(e.exitDay),
            e.exitReason,
            ts(created),
            ts(updated),
          ];
        }
      }
    },
  };
}

function classEnrollments(t: TableContext): TableSource {
  const { world, ts, date, dateOrNull } = t;
  const { students } = world;
  const { termLast, classCreated } = classDays(world);
  const A = world.preset.assignmentsPerTerm;
  return {
    table: 'class_enrollments',
    columns: [
      'id',
      'class_id',
      'student_id',
      'status',
      'entry_date',
      'exit_date',
      'final_percent',
      'final_grade',
      'grade_points',
      'credits_attempted',
      'credits_earned',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(
        world.ids(
          Table.classEnrollment,
          world.classes.reduce((n, c) => n + c.students.length, 0),
        ),
      );
      const scale = [...DEFAULT_GRADING_SCALE].sort((a, b) => b.min_percent - a.min_percent);
      for (const c of world.classes) {
        const course = world.courses[c.courseIdx]!;
        const plans = planAssignments(world, c, A);
        const earned = new Float64Array(c.students.length);
        const possible = new Float64Array(c.students.length);
        for (const o of scoreOutcomes(world, c, plans)) {
          if (o.points === null) continue;
          const p = plans[o.assignment]!;
          earned[o.roster] = earned[o.roster]! + o.points * p.weight;
          possible[o.roster] = possible[o.roster]! + p.points * p.weight;
        }
        const created = classCreated(c);
        for (let i = 0; i < c.students.length; i++) {
          const status = c.status[i]!;
          const entry = c.entry[i]!;
          const at = atMost(world, Math.max(created, (entry - 3) * DAY_MS + 18 * HOUR_MS));
          let final: [number | null, string | null, number | null, number | null, number | null] = [
            null,
            null,
            null,
            null,
            null,
          ];
          let updated = at;
          if (status === ClassStatus.completed) {
            // A student who joined for the last days may have nothing graded: the teacher
            // still posts a grade, from the student's general standing.
            const s = students[c.students[i]!]!;
            const percent =
              possible[i]! > 0
                ? Math.round((10000 * earned[i]!) / possible[i]!) / 100
                : Math.round(Math.min(100, s.ability) * 100) / 100;
            const band = scale.find((b) => percent >= b.min_percent) ?? scale[scale.length - 1]!;
            final = [
              percent,
              band.letter,
              band.points,
              course.credits,
              band.points > 0 ? course.credits : 0,
            ];
            updated = atMost(world, (termLast(c) + 3) * DAY_MS + 21 * HOUR_MS);
          } else if (c.exit[i]! >= 0) {
            updated = atMost(world, Math.max(at, c.exit[i]! * DAY_MS + 21 * HOUR_MS));
          }
          yield [
            ids.next(),
            c.id,
            students[c.students[i]!]!.id,
            CLASS_STATUS_NAMES[status]!,
            date(entry),
            dateOrNull(c.exit[i]!),
            ...final,
            ts(at),
            ts(updated),
          ];
        }
      }
    },
  };
}

/** The academic tables, in foreign-key order. */
export function academicTables(t: TableContext): TableSource[] {
  return [courses(t), classes(t), classTeachers(t), schoolEnrollments(t), classEnrollments(t)];
}
