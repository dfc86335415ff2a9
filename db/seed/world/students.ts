import { DAY_MS, dayOf, HOUR_MS } from '../dates.js';
import { EXIT_REASONS } from '../names.js';
import { hash32, hashFloat, Rng, rngFor, Stream } from '../random.js';
import {
  atMost,
  type Enrollment,
  INSTRUCTIONAL_DAYS,
  type School,
  type SchoolCalendar,
  type Student,
  Table,
  type World,
} from './model.js';

/** Students: who they are, how they attend and work, and their enrollment in each year. */

/**
 * Absence propensity: most students rarely miss school, a sizeable minority miss often and
 * a few very often. Mean ≈ 7 % (ADA ≈ 93 %), and ≈ 20–25 % of students end up at or above the
 * 10 % chronic-absence line once daily noise is added.
 */
function absencePropensity(rng: Rng): number {
  const u = rng.float();
  if (u < 0.7) return rng.uniform(0.005, 0.075);
  if (u < 0.92) return rng.uniform(0.07, 0.16);
  return Math.min(0.6, 0.15 + rng.exponential(0.1));
}

/** Share of work a student never turns in: a few students account for most missing work. */
function missingPropensity(rng: Rng): number {
  const u = rng.float();
  if (u < 0.8) return rng.uniform(0.003, 0.025);
  if (u < 0.95) return rng.uniform(0.02, 0.06);
  return rng.uniform(0.08, 0.3);
}

/** An instructional day drawn from a range of the calendar's instructional days. */
function instructionalBetween(cal: SchoolCalendar, rng: Rng, from: number, to: number): number {
  const lo = Math.max(0, from);
  const hi = Math.min(cal.instructional.length - 1, to);
  return cal.instructional[rng.between(lo, hi)]!;
}

export function buildStudents(world: World): void {
  for (const school of world.schools) {
    const rng = rngFor(world.seed, Stream.student, 1_000_000 + school.idx);
    const size = (g: number) =>
      Math.max(1, Math.round(school.perGrade * rng.uniform(0.9, 1.1) * (g === 12 ? 0.92 : 1)));
    const prevByGrade = enrolPreviousYear(world, school, size);
    enrolCurrentYear(world, school, size, prevByGrade);
  }
  finishStudents(world);
}

/** A new student of a school, appended to the world, its enrollments still to be made. */
function newStudent(world: World, schoolIdx: number): Student {
  const { seed, students } = world;
  const idx = students.length;
  const rng = rngFor(seed, Stream.student, idx);
  const iep = rng.chance(0.12);
  const s: Student = {
    idx,
    id: '',
    number: String(1_000_000 + idx * 7 + (hash32(seed, idx) % 7)),
    firstName: '',
    middleName: null,
    lastName: '',
    preferredName: null,
    gender: rng.chance(0.01) ? 'nonbinary' : rng.chance(0.5) ? 'female' : 'male',
    dob: 0,
    schoolIdx,
    grade: 0,
    status: 'active',
    iep,
    section504: !iep && rng.chance(0.06),
    enroll: [null, null],
    familyIdx: -1,
    siblingOrder: 0,
    absence: absencePropensity(rng),
    tardy: rng.uniform(0.01, 0.08),
    ability: Math.max(45, Math.min(99, rng.normal(84.5, 7.5))),
    missing: missingPropensity(rng),
    late: rng.uniform(0, 0.12),
    lunch: rng.chance(0.35),
    care: rng.chance(0.15),
    createdMs: 0,
    updatedMs: 0,
  };
  students.push(s);
  return s;
}

/** Previous year: everyone who was enrolled at some point, by grade. */
function enrolPreviousYear(
  world: World,
  school: School,
  size: (grade: number) => number,
): Map<number, Student[]> {
  const { seed } = world;
  const cals = school.calendars;
  const lowest = school.grades[0]!;
  const prevByGrade = new Map<number, Student[]>();
  for (const g of school.grades) {
    const list: Student[] = [];
    const n = size(g);
    for (let i = 0; i < n; i++) {
      const s = newStudent(world, school.idx);
      const srng = rngFor(seed, Stream.student, s.idx, 1);
      const cal = cals[0]!;
      const mid = srng.chance(0.05);
      const entry = mid ? instructionalBetween(cal, srng, 10, 150) : cal.instructional[0]!;
      const e: Enrollment = {
        schoolIdx: school.idx,
        grade: g,
        entryDay: entry,
        exitDay: -1,
        status: g === 12 ? 'graduated' : 'completed',
        exitReason: null,
        midYearEntry: mid,
        isNew: mid || g === lowest || srng.chance(0.08),
      };
      if (srng.chance(0.035)) {
        const entryIdx = cal.instructional.indexOf(entry);
        e.exitDay = instructionalBetween(cal, srng, entryIdx + 5, 175);
        e.status = srng.chance(0.6) ? 'transferred' : 'withdrawn';
        e.exitReason = srng.pick(EXIT_REASONS);
      } else {
        e.exitDay = cal.instructional[INSTRUCTIONAL_DAYS - 1]!;
      }
      s.enroll[0] = e;
      list.push(s);
    }
    prevByGrade.set(g, list);
  }

  return prevByGrade;
}

/** Current year: returning students move up a grade; new students fill each grade. */
function enrolCurrentYear(
  world: World,
  school: School,
  size: (grade: number) => number,
  prevByGrade: Map<number, Student[]>,
): void {
  const { seed } = world;
  const cals = school.calendars;
  const lowest = school.grades[0]!;
  const cal = cals[1]!;
  for (const g of school.grades) {
    const returning =
      g === lowest
        ? []
        : (prevByGrade.get(g - 1) ?? []).filter((s) => {
            const e = s.enroll[0]!;
            return e.status === 'completed' && hashFloat(seed, Stream.student, s.idx, 2) < 0.9;
          });
    const target = size(g);
    const fresh = Math.max(Math.round(target * 0.04), target - returning.length);
    const cohort = [...returning];
    for (let i = 0; i < fresh; i++) cohort.push(newStudent(world, school.idx));
    for (const s of cohort) {
      const srng = rngFor(seed, Stream.student, s.idx, 3);
      const isNew = s.enroll[0] === null;
      const mid = isNew && srng.chance(0.2);
      const entry = mid ? instructionalBetween(cal, srng, 10, 150) : cal.instructional[0]!;
      // A mid-year start after as-of has not happened yet: that family is still a lead.
      if (entry > world.asOf && mid) continue;
      const e: Enrollment = {
        schoolIdx: school.idx,
        grade: g,
        entryDay: entry,
        exitDay: -1,
        status: 'active',
        exitReason: null,
        midYearEntry: mid,
        isNew,
      };
      const exitDay = instructionalBetween(cal, srng, cal.instructional.indexOf(entry) + 5, 175);
      if (srng.chance(0.035) && exitDay <= world.asOf) {
        e.exitDay = exitDay;
        e.status = srng.chance(0.6) ? 'transferred' : 'withdrawn';
        e.exitReason = srng.pick(EXIT_REASONS);
      }
      s.enroll[1] = e;
    }
  }
}

/**
 * Drops students never admitted, renumbers the rest, and derives each one's id, school,
 * grade, status, date of birth and record times from its enrollments.
 */
function finishStudents(world: World): void {
  const { seed, years } = world;
  const students = world.students;
  // Students whose only enrollment would start after as-of were never admitted: drop them
  // and renumber, since indices must be dense and ordered like the ids.
  world.students = students.filter((s) => s.enroll[0] !== null || s.enroll[1] !== null);
  world.students.forEach((s, i) => (s.idx = i));
  const ids = world.ids(Table.student, world.students.length);
  for (const s of world.students) {
    s.id = ids.at(s.idx);
    const rng = rngFor(seed, Stream.student, s.idx, 4);
    const cur = s.enroll[1];
    const last = cur ?? s.enroll[0]!;
    s.schoolIdx = last.schoolIdx;
    s.grade = last.grade;
    if (cur)
      s.status =
        cur.exitDay >= 0 ? (cur.status === 'transferred' ? 'transferred' : 'withdrawn') : 'active';
    else if (last.status === 'graduated') s.status = 'graduated';
    else if (last.status === 'completed') s.status = 'transferred';
    else s.status = last.status === 'transferred' ? 'transferred' : 'withdrawn';
    // Age 5 on September 1 of the kindergarten year.
    const year = years[cur ? 1 : 0]!.startYear;
    const born = dayOf(year - 5 - last.grade, 9, 2) - 365;
    s.dob = born + rng.int(365);
    const firstEntry = (s.enroll[0] ?? cur)!;
    const firstYear = years[s.enroll[0] ? 0 : 1]!;
    const joined = firstEntry.isNew
      ? firstEntry.entryDay - rng.between(14, 120)
      : firstYear.startDay - rng.between(120, 120 + 365 * Math.min(6, last.grade + 1));
    s.createdMs = atMost(
      world,
      joined * DAY_MS + rng.between(14, 23) * HOUR_MS + rng.int(3600) * 1000,
    );
    const exits = s.enroll.filter((e): e is Enrollment => e !== null && e.exitDay >= 0);
    const lastChange = Math.max(firstEntry.entryDay, ...exits.map((e) => e.exitDay));
    s.updatedMs = atMost(world, Math.max(s.createdMs, lastChange * DAY_MS + 21 * HOUR_MS));
  }
}
