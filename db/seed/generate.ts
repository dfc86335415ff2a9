/**
 * Row generators, one per tenant table, in foreign-key order. Each is a sync generator that
 * derives its rows from the world and per-entity random streams as COPY pulls them, so no
 * table is ever materialised; the big ones (attendance, scores) yield millions of rows from
 * a few hundred bytes of state.
 *
 * Rows are written in ascending id order (see IdSpace) and, where a unique index exists,
 * in that index's order too: the btrees are appended to, not split at random.
 */
import { DEFAULT_GRADING_SCALE } from '../tenant-defaults.js';
import type { TableSource } from './copy.js';
import { tourSlotTables } from './tours.js';
import { DAY_MS, DateFormat, HOUR_MS, MINUTE_MS, localMs, weekday } from './dates.js';
import { FinanceOrdinals, simulateAccount, type AccountBook } from './finance.js';
import { gradeLabel, leadContext, linkConversions, simulateLead } from './leads.js';
import { EXCUSED_REASONS, SCORE_COMMENTS, TARDY_REASONS } from './names.js';
import { IdSequence, Stream, hashFloat, rngFor } from './random.js';
import {
  CLASS_STATUS_NAMES,
  ClassStatus,
  DAY_KIND_NAMES,
  GRADE_LABELS,
  Table,
  atMost,
  type ClassSection,
  type World,
} from './world.js';

/** Ids that exist in the tenant before seeding and that seeded rows point at. */
export interface TenantRefs {
  rootOrgUnitId: string;
  roleIds: { principal: string; teacher: string; parent: string };
  /** Password hashes of the demo logins (salted, so deliberately not deterministic). */
  passwordHashes: { principal: string; teacher: string; parent: string };
}

/** Every table the seed writes, in an order that satisfies the foreign keys. */
export function seedTables(world: World, refs: TenantRefs): TableSource[] {
  const fmt = new DateFormat();
  const ts = (ms: number) => fmt.timestamp(ms);
  const date = (day: number) => fmt.date(day);
  const dateOrNull = (day: number) => (day >= 0 ? fmt.date(day) : null);
  const { schools, students, years } = world;
  const A = world.preset.assignmentsPerTerm;

  const orgUnits: TableSource = {
    table: 'org_units',
    columns: [
      'id',
      'parent_id',
      'kind',
      'name',
      'code',
      'timezone',
      'grade_levels',
      'enrollment_open',
      'status',
      'address',
      'phone',
      'website',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const r of world.regions) {
        const at = ts(world.setupMs + r.idx * MINUTE_MS);
        const grades = [
          ...new Set(schools.filter((s) => s.region === r).flatMap((s) => s.grades)),
        ].sort((a, b) => a - b);
        yield [
          r.id,
          refs.rootOrgUnitId,
          'region',
          `${r.state.region} Region`,
          r.state.state,
          r.state.timezone,
          grades.map((g) => GRADE_LABELS[g]!),
          false,
          'active',
          null,
          null,
          null,
          at,
          at,
        ];
      }
      for (const s of schools) {
        const at = ts(world.setupMs + (10 + s.idx) * MINUTE_MS);
        const address = JSON.stringify({
          line1: s.street,
          city: s.city.city,
          state: s.region.state.state,
          postal_code: s.city.zip,
        });
        yield [
          s.id,
          s.region.id,
          s.kind,
          s.name,
          s.code,
          s.timezone,
          s.grades.map((g) => GRADE_LABELS[g]!),
          s.enrollmentOpen,
          'active',
          address,
          `(${s.city.area}) 555-${String(100 + s.idx).padStart(4, '0')}`,
          `https://${s.slug}.example.org`,
          at,
          at,
        ];
      }
    },
  };

  const sessions: TableSource = {
    table: 'academic_sessions',
    columns: [
      'id',
      'org_unit_id',
      'parent_id',
      'kind',
      'name',
      'start_date',
      'end_date',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const y of years) {
        const at = ts(atMost(world, y.setupMs));
        yield [
          y.id,
          refs.rootOrgUnitId,
          null,
          'school_year',
          y.name,
          date(y.startDay),
          date(y.endDay),
          at,
          at,
        ];
        for (const t of y.terms) {
          yield [
            t.id,
            refs.rootOrgUnitId,
            y.id,
            'term',
            t.name,
            date(t.startDay),
            date(t.endDay),
            at,
            at,
          ];
          for (const g of t.gradingPeriods) {
            yield [
              g.id,
              refs.rootOrgUnitId,
              t.id,
              'grading_period',
              g.name,
              date(g.startDay),
              date(g.endDay),
              at,
              at,
            ];
          }
        }
      }
    },
  };

  const calendarDays: TableSource = {
    table: 'calendar_days',
    columns: ['id', 'school_id', 'session_id', 'date', 'kind', 'note', 'created_at', 'updated_at'],
    *rows() {
      const ids = new IdSequence(world.ids(Table.calendarDay, schools.length * 2 * 366));
      for (const s of schools) {
        for (const y of years) {
          const cal = s.calendars[y.idx]!;
          const at = ts(atMost(world, y.setupMs + HOUR_MS));
          for (let i = 0; i < cal.kinds.length; i++) {
            yield [
              ids.next(),
              s.id,
              y.id,
              date(cal.start + i),
              DAY_KIND_NAMES[cal.kinds[i]!]!,
              cal.notes[i]!,
              at,
              at,
            ];
          }
        }
      }
    },
  };

  const demo = world.demo;
  const principal = world.staff[demo.principalStaffIdx]!;
  const teacher = world.staff[demo.teacherStaffIdx]!;
  const parent = world.guardians[demo.parentGuardianIdx]!;
  const users: TableSource = {
    table: 'users',
    columns: [
      'id',
      'email',
      'password_hash',
      'first_name',
      'last_name',
      'phone',
      'status',
      'failed_login_count',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const at = (n: number) => ts(world.setupMs + (60 + n) * MINUTE_MS);
      yield [
        demo.principalUserId,
        demo.emails.principal,
        refs.passwordHashes.principal,
        principal.firstName,
        principal.lastName,
        null,
        'active',
        0,
        at(0),
        at(0),
      ];
      yield [
        demo.teacherUserId,
        demo.emails.teacher,
        refs.passwordHashes.teacher,
        teacher.firstName,
        teacher.lastName,
        null,
        'active',
        0,
        at(1),
        at(1),
      ];
      const family = world.families[parent.familyIdx]!;
      const joined = ts(family.createdMs);
      yield [
        demo.parentUserId,
        demo.emails.parent,
        refs.passwordHashes.parent,
        parent.firstName,
        parent.lastName,
        parent.phone,
        'active',
        0,
        joined,
        joined,
      ];
    },
  };

  const userRoles: TableSource = {
    table: 'user_roles',
    columns: ['id', 'user_id', 'role_id', 'org_unit_id', 'created_at', 'updated_at'],
    *rows() {
      const ids = world.ids(Table.userRole, 16);
      const school = schools[principal.schoolIdx]!.id;
      const at = ts(world.setupMs + 70 * MINUTE_MS);
      yield [ids.at(0), demo.principalUserId, refs.roleIds.principal, school, at, at];
      yield [
        ids.at(1),
        demo.teacherUserId,
        refs.roleIds.teacher,
        schools[teacher.schoolIdx]!.id,
        at,
        at,
      ];
      const joined = ts(world.families[parent.familyIdx]!.createdMs);
      yield [ids.at(2), demo.parentUserId, refs.roleIds.parent, null, joined, joined];
    },
  };

  const guardians: TableSource = {
    table: 'guardians',
    columns: [
      'id',
      'user_id',
      'first_name',
      'last_name',
      'email',
      'phone',
      'address',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const g of world.guardians) {
        const f = world.families[g.familyIdx]!;
        const at = ts(f.createdMs);
        const address = JSON.stringify({
          line1: f.street,
          city: f.city.city,
          state: f.state,
          postal_code: f.city.zip,
        });
        yield [g.id, g.userId, g.firstName, g.lastName, g.email, g.phone, address, at, at];
      }
    },
  };

  const studentRows: TableSource = {
    table: 'students',
    columns: [
      'id',
      'user_id',
      'student_number',
      'first_name',
      'middle_name',
      'last_name',
      'preferred_name',
      'date_of_birth',
      'gender',
      'grade_level',
      'school_id',
      'status',
      'iep',
      'section_504',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const s of students) {
        yield [
          s.id,
          null,
          s.number,
          s.firstName,
          s.middleName,
          s.lastName,
          s.preferredName,
          date(s.dob),
          s.gender,
          GRADE_LABELS[s.grade]!,
          schools[s.schoolIdx]!.id,
          s.status,
          s.iep,
          s.section504,
          ts(s.createdMs),
          ts(s.updatedMs),
        ];
      }
    },
  };

  const studentGuardians: TableSource = {
    table: 'student_guardians',
    columns: [
      'id',
      'student_id',
      'guardian_id',
      'relationship',
      'is_primary',
      'can_pickup',
      'lives_with',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.studentGuardian, students.length * 2));
      for (const s of students) {
        const f = world.families[s.familyIdx]!;
        const at = ts(s.createdMs);
        for (let i = 0; i < f.guardians.length; i++) {
          const g = world.guardians[f.guardians[i]!]!;
          const u = hashFloat(world.seed, Stream.guardian, s.idx, i);
          yield [
            ids.next(),
            s.id,
            g.id,
            g.relationship,
            i === 0,
            u > 0.02,
            i === 0 || u > 0.1,
            at,
            at,
          ];
        }
      }
    },
  };

  const staffRows: TableSource = {
    table: 'staff',
    columns: [
      'id',
      'user_id',
      'employee_number',
      'first_name',
      'last_name',
      'email',
      'school_id',
      'title',
      'employment_status',
      'employment_type',
      'subjects',
      'hire_date',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const s of world.staff) {
        const at = ts(
          atMost(world, Math.max(world.setupMs, (s.hireDay - 14) * DAY_MS + 17 * HOUR_MS)),
        );
        yield [
          s.id,
          s.userId,
          `E${10001 + s.idx}`,
          s.firstName,
          s.lastName,
          s.email,
          schools[s.schoolIdx]!.id,
          s.title,
          s.employmentStatus,
          s.employmentType,
          [...s.subjects].sort(),
          date(s.hireDay),
          at,
          at,
        ];
      }
    },
  };

  const courses: TableSource = {
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

  const termOf = (c: ClassSection) => years[c.yearIdx]!.terms[c.termIdx]!;
  const termLast = (c: ClassSection) => {
    const days = schools[c.schoolIdx]!.calendars[c.yearIdx]!.termDays[c.termIdx]!;
    return days[days.length - 1]!;
  };
  const classCreated = (c: ClassSection) =>
    atMost(world, (termOf(c).startDay - 20) * DAY_MS + 18 * HOUR_MS);
  const classes: TableSource = {
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

  const classTeachers: TableSource = {
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

  const schoolEnrollments: TableSource = {
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

  const classEnrollments: TableSource = {
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

  const attendance: TableSource = {
    table: 'attendance_records',
    columns: [
      'id',
      'student_id',
      'school_id',
      'date',
      'status',
      'reason',
      'marked_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.attendance, students.length * 2 * 180));
      // 08:00 local on each instructional day, per school and year: offsets need a date.
      const morning = schools.map((s) =>
        s.calendars.map((cal) => cal.instructional.map((d) => localMs(s.timezone, d, 8))),
      );
      for (const s of students) {
        for (let y = 0; y < 2; y++) {
          const e = s.enroll[y];
          if (!e) continue;
          const school = schools[e.schoolIdx]!;
          const cal = school.calendars[y]!;
          const base = morning[school.idx]![y]!;
          const rng = rngFor(world.seed, Stream.attendance, s.idx, y);
          const p = s.absence * rng.uniform(0.8, 1.2);
          const early = 0.015;
          const offset = ((s.idx * 7919) % 3000) * 1000;
          for (let i = 0; i < cal.instructional.length; i++) {
            const d = cal.instructional[i]!;
            if (d < e.entryDay) continue;
            if ((e.exitDay >= 0 && d > e.exitDay) || d > world.asOf) break;
            if (cal.noAttendance.has(d)) continue;
            // Mondays and Fridays see more absences than midweek; the mean stays at p.
            const w = weekday(d);
            const pd = p * (w === 5 ? 1.25 : w === 1 ? 1.1 : 0.88);
            const u = rng.float();
            let status: string;
            let reason: string | null = null;
            if (u < pd) {
              if (rng.chance(0.45)) {
                status = 'excused_absence';
                reason = rng.pick(EXCUSED_REASONS);
              } else {
                status = 'absent';
              }
            } else {
              const v = rng.float();
              if (v < s.tardy) {
                status = 'tardy';
                if (v < s.tardy * 0.3) reason = rng.pick(TARDY_REASONS);
              } else if (v < s.tardy + early) {
                status = 'early_departure';
                if (v < s.tardy + early / 2) reason = 'Medical appointment';
              } else {
                status = 'present';
              }
            }
            const at = ts(base[i]! + offset + (status === 'tardy' ? 40 * MINUTE_MS : 0));
            yield [ids.next(), s.id, school.id, date(d), status, reason, at, at, at];
          }
        }
      }
    },
  };

  const assignments: TableSource = {
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

  const scores: TableSource = {
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

  const ctx = leadContext(world);
  let conversions: Map<number, number> | null = null;
  const leadIds = world.ids(Table.lead, world.preset.leads);
  const leads: TableSource = {
    table: 'leads',
    columns: [
      'id',
      'guardian_name',
      'email',
      'phone',
      'student_first_name',
      'grade_interest',
      'school_id',
      'stage',
      'score',
      'owner_user_id',
      'lost_reason',
      'lost_at',
      'converted_student_id',
      'consent',
      'message',
      'source',
      'first_touch_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      conversions ??= linkConversions(world, ctx);
      for (let i = 0; i < world.preset.leads; i++) {
        const l = simulateLead(world, ctx, i);
        const converted = conversions.get(i);
        const student = converted === undefined ? null : students[converted]!;
        const first = ts(l.firstMs);
        const grade = student
          ? GRADE_LABELS[
              (student.enroll.find((e) => e?.isNew) ?? student.enroll[1] ?? student.enroll[0])!
                .grade
            ]!
          : gradeLabel(l.grade);
        yield [
          leadIds.at(i),
          l.guardianName,
          l.email,
          l.phone,
          student ? student.firstName : l.studentFirstName,
          grade,
          schools[l.schoolIdx]!.id,
          l.stage,
          l.score,
          null,
          l.lostReason,
          l.lostMs === null ? null : ts(l.lostMs),
          student ? student.id : null,
          l.consent,
          l.message,
          l.source,
          first,
          first,
          ts(l.updatedMs),
        ];
      }
    },
  };

  const stageHistory: TableSource = {
    table: 'lead_stage_history',
    columns: [
      'id',
      'lead_id',
      'from_stage',
      'to_stage',
      'changed_by',
      'changed_at',
      'note',
      'created_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.stageHistory, world.preset.leads * 4));
      for (let i = 0; i < world.preset.leads; i++) {
        const l = simulateLead(world, ctx, i);
        const lead = leadIds.at(i);
        for (const m of l.moves) {
          const at = ts(m.ms);
          const note =
            m.to === 'lost'
              ? l.lostReason
              : m.from === 'inquiry' && m.to === 'application_started'
                ? 'Applied without a tour'
                : null;
          yield [ids.next(), lead, m.from, m.to, null, at, note, at];
        }
      }
    },
  };

  const touchpoints: TableSource = {
    table: 'lead_touchpoints',
    columns: [
      'id',
      'lead_id',
      'kind',
      'channel',
      'utm_source',
      'utm_medium',
      'utm_campaign',
      'utm_term',
      'utm_content',
      'referrer',
      'landing_page',
      'details',
      'occurred_at',
      'created_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.touchpoint, world.preset.leads * 5));
      for (let i = 0; i < world.preset.leads; i++) {
        const l = simulateLead(world, ctx, i);
        const lead = leadIds.at(i);
        for (const t of l.touches) {
          const at = ts(t.ms);
          yield [
            ids.next(),
            lead,
            t.kind,
            t.channel,
            t.utmSource,
            t.utmMedium,
            t.utmCampaign,
            t.utmTerm,
            t.utmContent,
            t.referrer,
            t.landingPage,
            t.details,
            at,
            at,
          ];
        }
      }
    },
  };

  const esaPrograms: TableSource = {
    table: 'esa_programs',
    columns: ['id', 'name', 'state', 'award_amount_cents', 'created_at', 'updated_at'],
    *rows() {
      for (const p of world.esaPrograms) {
        const at = ts(world.setupMs + (200 + p.idx) * MINUTE_MS);
        yield [p.id, p.name, p.state, p.award, at, at];
      }
    },
  };

  const applicationIds = world.ids(Table.esaApplication, world.esa.length);
  const disbursementIds = world.ids(Table.esaDisbursement, world.esa.length * 4);
  const esaApplications: TableSource = {
    table: 'esa_applications',
    columns: [
      'id',
      'student_id',
      'program_id',
      'session_id',
      'school_id',
      'status',
      'amount_requested_cents',
      'amount_awarded_cents',
      'submitted_at',
      'decided_at',
      'decision_note',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const a of world.esa) {
        yield [
          applicationIds.at(a.ordinal),
          students[a.studentIdx]!.id,
          world.esaPrograms[a.programIdx]!.id,
          years[a.yearIdx]!.id,
          schools[a.schoolIdx]!.id,
          a.status,
          a.requested,
          a.awarded,
          a.submittedMs === null ? null : ts(a.submittedMs),
          a.decidedMs === null ? null : ts(a.decidedMs),
          a.note,
          ts(a.createdMs),
          ts(a.updatedMs),
        ];
      }
    },
  };

  const esaDisbursements: TableSource = {
    table: 'esa_disbursements',
    columns: [
      'id',
      'application_id',
      'amount_cents',
      'scheduled_on',
      'disbursed_on',
      'status',
      'reference',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const a of world.esa) {
        const state = world.esaPrograms[a.programIdx]!.state;
        const created = a.decidedMs!;
        for (const d of a.disbursements) {
          const updated =
            d.status === 'disbursed'
              ? d.disbursedDay * DAY_MS + 15 * HOUR_MS
              : d.status === 'cancelled'
                ? atMost(world, Math.max(created, d.scheduledDay * DAY_MS - 5 * DAY_MS))
                : created;
          yield [
            disbursementIds.at(d.ordinal),
            applicationIds.at(a.ordinal),
            d.amount,
            date(d.scheduledDay),
            dateOrNull(d.disbursedDay),
            d.status,
            d.status === 'disbursed'
              ? `${state}-DSB-${String(d.ordinal + 1).padStart(7, '0')}`
              : null,
            ts(created),
            ts(Math.max(created, updated)),
          ];
        }
      }
    },
  };

  const accountIds = world.ids(Table.account, world.families.length);
  const billingAccounts: TableSource = {
    table: 'billing_accounts',
    columns: [
      'id',
      'account_number',
      'name',
      'primary_guardian_id',
      'school_id',
      'status',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const f of world.families) {
        const kids = f.students.map((k) => students[k]!);
        const active = kids.some((s) => s.status === 'active');
        const created = ts(f.createdMs);
        const updated = active
          ? created
          : ts(Math.max(f.createdMs, ...kids.map((s) => s.updatedMs)));
        yield [
          accountIds.at(f.idx),
          `A${String(100001 + f.idx)}`,
          `${f.lastName} Family`,
          world.guardians[f.guardians[0]!]!.id,
          schools[kids[0]!.schoolIdx]!.id,
          active ? 'active' : 'closed',
          created,
          updated,
        ];
      }
    },
  };

  const billingAccountGuardians: TableSource = {
    table: 'billing_account_guardians',
    columns: ['id', 'account_id', 'guardian_id', 'created_at', 'updated_at'],
    *rows() {
      const ids = new IdSequence(world.ids(Table.accountGuardian, world.guardians.length));
      for (const f of world.families) {
        const at = ts(f.createdMs);
        for (const g of f.guardians)
          yield [ids.next(), accountIds.at(f.idx), world.guardians[g]!.id, at, at];
      }
    },
  };

  // The finance tables replay the same per-account simulation, in the same order.
  const invoiceIds = world.ids(Table.invoice, students.length * 26);
  const paymentIds = world.ids(Table.payment, students.length * 30);
  function* books(): Generator<[number, AccountBook]> {
    const ord = new FinanceOrdinals();
    for (const f of world.families) yield [f.idx, simulateAccount(world, f.idx, ord)];
  }

  const invoices: TableSource = {
    table: 'invoices',
    columns: [
      'id',
      'number',
      'account_id',
      'student_id',
      'school_id',
      'issue_date',
      'due_date',
      'status',
      'currency',
      'subtotal_cents',
      'total_cents',
      'amount_paid_cents',
      'balance_cents',
      'memo',
      'issued_at',
      'paid_at',
      'voided_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const [f, book] of books()) {
        for (const inv of book.invoices) {
          yield [
            invoiceIds.at(inv.ordinal),
            inv.number,
            accountIds.at(f),
            students[inv.studentIdx]!.id,
            schools[inv.schoolIdx]!.id,
            dateOrNull(inv.issueDay),
            dateOrNull(inv.dueDay),
            inv.status,
            'USD',
            inv.total,
            inv.total,
            inv.paid,
            inv.total - inv.paid,
            inv.memo,
            inv.issuedMs === null ? null : ts(inv.issuedMs),
            inv.paidMs === null ? null : ts(inv.paidMs),
            inv.voidedMs === null ? null : ts(inv.voidedMs),
            ts(inv.createdMs),
            ts(inv.updatedMs),
          ];
        }
      }
    },
  };

  const invoiceLines: TableSource = {
    table: 'invoice_lines',
    columns: [
      'id',
      'invoice_id',
      'position',
      'description',
      'quantity',
      'unit_amount_cents',
      'amount_cents',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.invoiceLine, students.length * 26 * 3));
      for (const [, book] of books()) {
        for (const inv of book.invoices) {
          const at = ts(inv.createdMs);
          const id = invoiceIds.at(inv.ordinal);
          for (let i = 0; i < inv.lines.length; i++) {
            const l = inv.lines[i]!;
            yield [
              ids.next(),
              id,
              i + 1,
              l.description,
              l.quantity,
              l.unit,
              l.quantity * l.unit,
              at,
              at,
            ];
          }
        }
      }
    },
  };

  const payments: TableSource = {
    table: 'payments',
    columns: [
      'id',
      'account_id',
      'method',
      'amount_cents',
      'unapplied_cents',
      'received_at',
      'reference',
      'esa_disbursement_id',
      'status',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const [f, book] of books()) {
        for (const p of book.payments) {
          const at = ts(p.receivedMs);
          yield [
            paymentIds.at(p.ordinal),
            accountIds.at(f),
            p.method,
            p.amount,
            p.unapplied,
            at,
            p.reference,
            p.disbursement >= 0 ? disbursementIds.at(p.disbursement) : null,
            p.status,
            at,
            ts(p.updatedMs),
          ];
        }
      }
    },
  };

  const allocations: TableSource = {
    table: 'payment_allocations',
    columns: ['id', 'payment_id', 'invoice_id', 'amount_cents', 'created_at', 'updated_at'],
    *rows() {
      const ids = world.ids(Table.allocation, students.length * 30);
      for (const [, book] of books()) {
        for (const a of book.allocations) {
          const at = ts(a.ms);
          yield [
            ids.at(a.ordinal),
            paymentIds.at(a.payment),
            invoiceIds.at(a.invoice),
            a.amount,
            at,
            at,
          ];
        }
      }
    },
  };

  return [
    orgUnits,
    sessions,
    calendarDays,
    users,
    userRoles,
    guardians,
    studentRows,
    studentGuardians,
    staffRows,
    courses,
    classes,
    classTeachers,
    schoolEnrollments,
    classEnrollments,
    attendance,
    assignments,
    scores,
    leads,
    stageHistory,
    touchpoints,
    esaPrograms,
    esaApplications,
    esaDisbursements,
    billingAccounts,
    billingAccountGuardians,
    invoices,
    invoiceLines,
    payments,
    allocations,
    ...tourSlotTables(world),
  ];
}

// --- gradebook ------------------------------------------------------------------------------

interface AssignmentPlan {
  id: string;
  title: string;
  category: string;
  points: number;
  weight: number;
  /** Spread of percentages on this kind of work. */
  sd: number;
  missing: number;
  assignedDay: number;
  dueDay: number;
  createdMs: number;
}

/** `missing` scales a student's missing-work propensity: homework goes missing, tests get make-ups. */
const CATEGORIES = [
  { key: 'homework', label: 'Homework', share: 0.38, points: [10], weight: 1, sd: 9, missing: 1.7 },
  {
    key: 'classwork',
    label: 'Classwork',
    share: 0.2,
    points: [10],
    weight: 1,
    sd: 8,
    missing: 1.2,
  },
  { key: 'quiz', label: 'Quiz', share: 0.2, points: [20, 25], weight: 1, sd: 9, missing: 0.4 },
  { key: 'test', label: 'Unit Test', share: 0.1, points: [50], weight: 1, sd: 8, missing: 0.1 },
  {
    key: 'project',
    label: 'Project',
    share: 0.06,
    points: [40, 50],
    weight: 1,
    sd: 7,
    missing: 0.6,
  },
  {
    key: 'participation',
    label: 'Participation',
    share: 0.06,
    points: [10],
    weight: 0.5,
    sd: 4,
    missing: 0.3,
  },
] as const;
const FINAL = {
  key: 'final',
  label: 'Final Exam',
  points: [100],
  weight: 1,
  sd: 8,
  missing: 0.05,
} as const;

/** A class's gradebook for its term: `count` items due through the term, the last a final. */
function planAssignments(world: World, c: ClassSection, count: number): AssignmentPlan[] {
  const rng = rngFor(world.seed, Stream.assignment, c.idx);
  const school = world.schools[c.schoolIdx]!;
  const days = school.calendars[c.yearIdx]!.termDays[c.termIdx]!;
  const ids = assignmentIds.get(world) ?? world.ids(Table.assignment, world.classes.length * count);
  assignmentIds.set(world, ids);
  const seen = new Map<string, number>();
  const plans: AssignmentPlan[] = [];
  const classStart = (world.years[c.yearIdx]!.terms[c.termIdx]!.startDay - 10) * DAY_MS;
  for (let j = 0; j < count; j++) {
    const last = j === count - 1;
    const cat = last ? FINAL : CATEGORIES[rng.weighted(CATEGORIES.map((x) => x.share))]!;
    const n = (seen.get(cat.key) ?? 0) + 1;
    seen.set(cat.key, n);
    const dueIdx = Math.max(0, Math.floor(((j + 1) * days.length) / count) - 1);
    const dueDay = days[dueIdx]!;
    const assignedDay = days[Math.max(0, dueIdx - rng.between(1, 6))]!;
    const points = rng.pick(cat.points as readonly number[]);
    plans.push({
      id: ids.at(c.idx * count + j),
      title: last ? cat.label : `${cat.label} ${n}`,
      category: cat.key,
      points,
      weight: cat.weight,
      sd: cat.sd,
      missing: cat.missing,
      assignedDay,
      dueDay,
      // Teachers post work when they assign it; the whole term is planned at its start.
      createdMs: atMost(world, Math.max(classStart, (assignedDay - 1) * DAY_MS + 23 * HOUR_MS)),
    });
  }
  return plans;
}
const assignmentIds = new WeakMap<World, ReturnType<World['ids']>>();

interface ScoreOutcome {
  assignment: number;
  roster: number;
  points: number | null;
  late: boolean;
  missing: boolean;
  excused: boolean;
  comment: string | null;
  gradedMs: number | null;
  createdMs: number;
}

/**
 * Every score of a class up to as-of, from the class's own stream. The object yielded is
 * reused: read it before pulling the next one.
 */
function* scoreOutcomes(
  world: World,
  c: ClassSection,
  plans: AssignmentPlan[],
): Generator<ScoreOutcome> {
  const rng = rngFor(world.seed, Stream.score, c.idx);
  const tz = world.schools[c.schoolIdx]!.timezone;
  const o: ScoreOutcome = {
    assignment: 0,
    roster: 0,
    points: null,
    late: false,
    missing: false,
    excused: false,
    comment: null,
    gradedMs: null,
    createdMs: 0,
  };
  const n = c.students.length;
  const fit = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = c.students[i]!;
    // How this student gets on with this course: stable, so grades differ by subject.
    fit[i] =
      (hashFloat(world.seed, 31, k, c.courseIdx) + hashFloat(world.seed, 37, k, c.courseIdx) - 1) *
      8;
  }
  for (let j = 0; j < plans.length; j++) {
    const p = plans[j]!;
    if (p.dueDay > world.asOf) break;
    const dueMs = localMs(tz, p.dueDay, 17);
    const gradedMs = localMs(tz, p.dueDay + rng.between(0, 5), rng.uniform(15, 22));
    const ungraded = gradedMs > world.cutoffMs;
    for (let i = 0; i < n; i++) {
      if (c.entry[i]! > p.dueDay) continue;
      const exit = c.exit[i]!;
      if (exit >= 0 && exit < p.dueDay) continue;
      const s = world.students[c.students[i]!]!;
      o.assignment = j;
      o.roster = i;
      o.late = false;
      o.missing = false;
      o.excused = false;
      o.comment = null;
      o.createdMs = atMost(world, dueMs);
      const u = rng.float();
      const pct = s.ability + fit[i]! + rng.normal(0, p.sd);
      const lateDraw = rng.float();
      if (ungraded) {
        o.points = null;
        o.gradedMs = null;
      } else {
        o.gradedMs = gradedMs;
        if (u < 0.01) {
          o.points = null;
          o.excused = true;
        } else if (u < 0.01 + s.missing * p.missing) {
          o.points = 0;
          o.missing = true;
        } else {
          o.late = lateDraw < s.late;
          const value = Math.max(0, Math.min(100, pct - (o.late ? 10 : 0)));
          const raw = (value / 100) * p.points;
          o.points = p.points <= 25 ? Math.round(raw * 2) / 2 : Math.round(raw);
          if (lateDraw > 0.992)
            o.comment = SCORE_COMMENTS[Math.floor(lateDraw * 1e6) % SCORE_COMMENTS.length]!;
        }
      }
      yield o;
    }
  }
}
