import { DAY_MS, HOUR_MS, localMs } from './dates.js';
import { SCORE_COMMENTS } from './names.js';
import { Stream, hashFloat, rngFor } from './random.js';
import { Table, atMost, type ClassSection, type World } from './world/model.js';

/**
 * A class's gradebook for its term: the assignments planned at its start and every score
 * graded up to as-of, each from the class's own random stream, so the assignments, scores
 * and class-roster tables can replay it independently and agree.
 */

export interface AssignmentPlan {
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
export function planAssignments(world: World, c: ClassSection, count: number): AssignmentPlan[] {
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

export interface ScoreOutcome {
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
export function* scoreOutcomes(
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
