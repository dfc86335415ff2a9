/**
 * The synthetic network held in memory: schools and their calendars, students with their
 * enrollments, families, staff, courses, classes with rosters, ESA applications.
 *
 * Only entities that other tables point at, or whose totals must agree across tables, live
 * here (tens of thousands of small objects for `large`). Row-per-day and row-per-score data
 * (attendance, assignments, scores, leads, invoices, payments) is derived again from
 * per-entity random streams each time a table is written, never stored.
 */
import { DAY_MS, HOUR_MS, dayOf, isWeekend, localMs, nthWeekday, ymdOf } from './dates.js';
import {
  EXIT_REASONS,
  FIRST_NAMES_F,
  FIRST_NAMES_M,
  LAST_NAMES,
  STATES,
  STREETS,
  DENIAL_NOTES,
  type StatePlaces,
} from './names.js';
import type { GradeSpan, Preset } from './presets.js';
import { IdSpace, Rng, Stream, hash32, hashFloat, rngFor } from './random.js';

export const INSTRUCTIONAL_DAYS = 180;
export const GRADE_LABELS = ['K', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
const BAND_LABELS = ['K-2', '3-5', '6-8', '9-12'];
const SPAN_GRADES: Record<GradeSpan, number[]> = {
  'K-5': [0, 1, 2, 3, 4, 5],
  '6-8': [6, 7, 8],
  '9-12': [9, 10, 11, 12],
  'K-8': [0, 1, 2, 3, 4, 5, 6, 7, 8],
};

export function bandOf(grade: number): number {
  return grade <= 2 ? 0 : grade <= 5 ? 1 : grade <= 8 ? 2 : 3;
}

/** Table keys for IdSpace: one id space per table. */
export const Table = {
  orgUnit: 1,
  session: 2,
  calendarDay: 3,
  user: 4,
  userRole: 5,
  guardian: 6,
  student: 7,
  studentGuardian: 8,
  staff: 9,
  course: 10,
  class: 11,
  classTeacher: 12,
  schoolEnrollment: 13,
  classEnrollment: 14,
  attendance: 15,
  assignment: 16,
  score: 17,
  lead: 18,
  stageHistory: 19,
  touchpoint: 20,
  esaProgram: 21,
  esaApplication: 22,
  esaDisbursement: 23,
  account: 24,
  accountGuardian: 25,
  invoice: 26,
  invoiceLine: 27,
  payment: 28,
  allocation: 29,
} as const;

// --- calendars -------------------------------------------------------------------------

export const DayKind = {
  instructional: 0,
  holiday: 1,
  break: 2,
  teacherWorkday: 3,
  weatherClosure: 4,
} as const;
export const DAY_KIND_NAMES = [
  'instructional',
  'holiday',
  'break',
  'teacher_workday',
  'weather_closure',
] as const;

export interface SchoolCalendar {
  /** First date of the school-year session (Aug 1); `kinds[i]` is for `start + i`. */
  start: number;
  kinds: Uint8Array;
  notes: (string | null)[];
  /** Instructional days in order: exactly INSTRUCTIONAL_DAYS of them. */
  instructional: number[];
  /** Instructional days of each term. */
  termDays: number[][];
  /** Instructional days (up to as-of) on which the school took no attendance at all. */
  noAttendance: Set<number>;
}

export interface Term {
  idx: number;
  id: string;
  name: string;
  startDay: number;
  endDay: number;
  gradingPeriods: { id: string; name: string; startDay: number; endDay: number }[];
}

export interface SchoolYear {
  idx: number;
  id: string;
  /** Calendar year the school year starts in (August). */
  startYear: number;
  name: string;
  startDay: number;
  endDay: number;
  terms: Term[];
  /** When the year's sessions and calendars were set up. */
  setupMs: number;
}

export interface Region {
  idx: number;
  id: string;
  state: StatePlaces;
}

export interface School {
  idx: number;
  id: string;
  name: string;
  code: string;
  kind: 'school' | 'microschool';
  span: GradeSpan;
  region: Region;
  timezone: string;
  grades: number[];
  perGrade: number;
  enrollmentOpen: boolean;
  city: { city: string; zip: string; area: string };
  street: string;
  slug: string;
  /** Annual tuition in cents. */
  tuition: number;
  calendars: SchoolCalendar[];
}

// --- people ----------------------------------------------------------------------------

export type EnrollmentStatus = 'active' | 'completed' | 'graduated' | 'withdrawn' | 'transferred';

export interface Enrollment {
  schoolIdx: number;
  grade: number;
  entryDay: number;
  /** -1 while enrolled. */
  exitDay: number;
  status: EnrollmentStatus;
  exitReason: string | null;
  midYearEntry: boolean;
  /** New to the network this year (admissions can convert a lead into this student). */
  isNew: boolean;
}

export interface Student {
  idx: number;
  id: string;
  number: string;
  firstName: string;
  middleName: string | null;
  lastName: string;
  preferredName: string | null;
  gender: 'female' | 'male' | 'nonbinary';
  dob: number;
  schoolIdx: number;
  grade: number;
  status: 'active' | 'graduated' | 'transferred' | 'withdrawn' | 'inactive';
  iep: boolean;
  section504: boolean;
  /** Per school year (0 = previous, 1 = current). */
  enroll: (Enrollment | null)[];
  familyIdx: number;
  siblingOrder: number;
  /** Propensity to be absent on a school day; heavy-tailed across students. */
  absence: number;
  tardy: number;
  /** Mean percentage the student earns; class fit and noise are added per score. */
  ability: number;
  missing: number;
  late: number;
  lunch: boolean;
  care: boolean;
  createdMs: number;
  updatedMs: number;
}

export interface Family {
  idx: number;
  lastName: string;
  students: number[];
  guardians: number[];
  street: string;
  city: { city: string; zip: string; area: string };
  state: string;
  /** Tuition spread over 10 (Aug–May) or 12 (Jul–Jun) monthly invoices. */
  planMonths: 10 | 12;
  payer: PayerProfile;
  createdMs: number;
}

export type PayerProfile = 'autopay' | 'prompt' | 'late' | 'delinquent' | 'defaulting';

export interface Guardian {
  idx: number;
  id: string;
  familyIdx: number;
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  relationship: string;
  userId: string | null;
}

export type StaffRole =
  'principal' | 'assistant_principal' | 'office' | 'counselor' | 'teacher' | 'aide';

export interface Staff {
  idx: number;
  id: string;
  schoolIdx: number;
  role: StaffRole;
  title: string;
  firstName: string;
  lastName: string;
  email: string;
  employmentType: 'full_time' | 'part_time' | 'substitute' | 'contract';
  employmentStatus: 'active' | 'on_leave';
  subjects: Set<string>;
  hireDay: number;
  userId: string | null;
}

// --- academics -------------------------------------------------------------------------

export interface Course {
  idx: number;
  id: string;
  code: string;
  name: string;
  subject: string;
  credits: number;
  grades: number[];
}

export const ClassStatus = { active: 0, completed: 1, withdrawn: 2, dropped: 3 } as const;
export const CLASS_STATUS_NAMES = ['active', 'completed', 'withdrawn', 'dropped'] as const;

export interface ClassSection {
  idx: number;
  id: string;
  courseIdx: number;
  schoolIdx: number;
  yearIdx: number;
  termIdx: number;
  section: string;
  period: number;
  room: string;
  capacity: number;
  teachers: { staffIdx: number; role: 'primary' | 'co_teacher' | 'aide' }[];
  /** Roster, ascending by student index (so by student id). */
  students: Int32Array;
  entry: Int32Array;
  /** -1 while enrolled. */
  exit: Int32Array;
  status: Uint8Array;
}

// --- ESA -------------------------------------------------------------------------------

export interface EsaProgram {
  idx: number;
  id: string;
  state: string;
  name: string;
  award: number;
  /** First school year (start year) the programme funds. */
  since: number;
}

export type EsaStatus =
  'draft' | 'submitted' | 'under_review' | 'approved' | 'denied' | 'withdrawn';

export interface EsaDisbursement {
  ordinal: number;
  amount: number;
  scheduledDay: number;
  disbursedDay: number;
  status: 'scheduled' | 'disbursed' | 'cancelled';
}

export interface EsaApplication {
  ordinal: number;
  studentIdx: number;
  yearIdx: number;
  programIdx: number;
  schoolIdx: number;
  status: EsaStatus;
  requested: number;
  awarded: number | null;
  createdMs: number;
  submittedMs: number | null;
  decidedMs: number | null;
  updatedMs: number;
  note: string | null;
  disbursements: EsaDisbursement[];
}

export interface DemoLogins {
  principalStaffIdx: number;
  teacherStaffIdx: number;
  parentGuardianIdx: number;
  principalUserId: string;
  teacherUserId: string;
  parentUserId: string;
  emails: { principal: string; teacher: string; parent: string };
}

export interface World {
  preset: Preset;
  seed: number;
  /**
   * What generated ids are drawn from: the seed and the tenant. Two tenants seeded alike get
   * the same data under different ids, so a test mixing up tenants cannot match by accident.
   */
  idSeed: number;
  asOf: number;
  /** Nothing generated happens after this instant: as-of, 20:00 UTC (afternoon in the US). */
  cutoffMs: number;
  /** When the network was set up, before the earliest school year. */
  setupMs: number;
  years: SchoolYear[];
  regions: Region[];
  schools: School[];
  students: Student[];
  families: Family[];
  guardians: Guardian[];
  staff: Staff[];
  courses: Course[];
  classes: ClassSection[];
  esaPrograms: EsaProgram[];
  esa: EsaApplication[];
  /** ESA applications by student and year: `esaByStudentYear.get(idx * 2 + year)`. */
  esaByStudentYear: Map<number, EsaApplication>;
  demo: DemoLogins;
  ids: (table: number, capacity: number) => IdSpace;
}

export interface WorldParams {
  preset: Preset;
  seed: number;
  /** The tenant's id: generated ids depend on it as well as on the seed. */
  tenantId: string;
  /** As-of date as a day number. */
  asOf: number;
}

/** Builds the in-memory network for a preset, seed and as-of date: pure and deterministic. */
export function buildWorld(params: WorldParams): World {
  const { preset, seed, asOf } = params;
  const idSeed = hash32(seed, Stream.ids, ...uuidWords(params.tenantId));
  const asOfYmd = ymdOf(asOf);
  // July belongs to the school year about to start: its sessions, rosters and calendars exist.
  const currentStart = asOfYmd.month >= 7 ? asOfYmd.year : asOfYmd.year - 1;
  const cutoffMs = asOf * DAY_MS + 20 * HOUR_MS;
  const years = [currentStart - 1, currentStart].map((y, idx) => buildYear(idSeed, idx, y));
  const setupMs = (years[0]!.startDay - 60) * DAY_MS + 15 * HOUR_MS;
  const ids = (table: number, capacity: number) => new IdSpace(idSeed, table, capacity);

  const world: World = {
    preset,
    seed,
    idSeed,
    asOf,
    cutoffMs,
    setupMs,
    years,
    regions: [],
    schools: [],
    students: [],
    families: [],
    guardians: [],
    staff: [],
    courses: [],
    classes: [],
    esaPrograms: [],
    esa: [],
    esaByStudentYear: new Map(),
    demo: undefined as unknown as DemoLogins,
    ids,
  };
  buildSchools(world);
  buildStudents(world);
  buildFamilies(world);
  buildCourses(world);
  buildClasses(world);
  buildStaff(world);
  buildEsa(world);
  world.demo = pickDemo(world);
  return world;
}

/** The four 32-bit words of a UUID (hex digits only; anything else is skipped). */
function uuidWords(id: string): number[] {
  const hex = id.replace(/[^0-9a-f]/gi, '').padEnd(32, '0');
  return [0, 8, 16, 24].map((at) => parseInt(hex.slice(at, at + 8), 16));
}

/** Clamps a generated instant so nothing lies after the as-of cutoff. */
export function atMost(world: World, ms: number): number {
  return ms < world.cutoffMs ? ms : world.cutoffMs;
}

// --- sessions and calendars ----------------------------------------------------------------

/** A school year with its terms and grading periods; `idSeed` draws their ids (all it draws). */
function buildYear(idSeed: number, idx: number, startYear: number): SchoolYear {
  const rng = rngFor(idSeed, Stream.world, 100 + idx);
  const short = String((startYear + 1) % 100).padStart(2, '0');
  const startDay = dayOf(startYear, 8, 1);
  const endDay = dayOf(startYear + 1, 6, 30);
  const terms: Term[] = [
    { start: startDay, end: dayOf(startYear, 12, 31), name: `Fall ${startYear}` },
    { start: dayOf(startYear + 1, 1, 1), end: endDay, name: `Spring ${startYear + 1}` },
  ].map((t, termIdx) => {
    const mid = termIdx === 0 ? dayOf(startYear, 10, 15) : dayOf(startYear + 1, 3, 15);
    return {
      idx: termIdx,
      id: rng.uuid(),
      name: t.name,
      startDay: t.start,
      endDay: t.end,
      gradingPeriods: [
        {
          id: rng.uuid(),
          name: `Q${termIdx * 2 + 1} ${startYear}–${short}`,
          startDay: t.start,
          endDay: mid,
        },
        {
          id: rng.uuid(),
          name: `Q${termIdx * 2 + 2} ${startYear}–${short}`,
          startDay: mid + 1,
          endDay: t.end,
        },
      ],
    };
  });
  return {
    idx,
    id: rng.uuid(),
    startYear,
    name: `${startYear}–${short}`,
    startDay,
    endDay,
    terms,
    setupMs: (startDay - 75) * DAY_MS + 16 * HOUR_MS,
  };
}

/**
 * One school's calendar for one year: weekends, holidays and breaks first, then exactly 180
 * instructional days from the region's first day; weekdays left over are summer.
 */
function buildCalendar(world: World, school: School, year: SchoolYear): SchoolCalendar {
  const rng = rngFor(world.seed, Stream.calendar, school.idx, year.idx);
  const y = year.startYear;
  const len = year.endDay - year.startDay + 1;
  const kinds = new Uint8Array(len).fill(255);
  const notes: (string | null)[] = new Array<string | null>(len).fill(null);
  const set = (day: number, kind: number, note: string) => {
    const i = day - year.startDay;
    if (i >= 0 && i < len && kinds[i] === 255 && !isWeekend(day)) {
      kinds[i] = kind;
      notes[i] = note;
    }
  };
  let first = dayOf(y, 8, school.region.state.firstDay);
  while (isWeekend(first)) first++;

  set(nthWeekday(y, 9, 1, 1), DayKind.holiday, 'Labor Day');
  set(dayOf(y, 11, 11), DayKind.holiday, 'Veterans Day');
  const thanksgiving = nthWeekday(y, 11, 4, 4);
  set(thanksgiving, DayKind.holiday, 'Thanksgiving');
  set(thanksgiving + 1, DayKind.holiday, 'Day after Thanksgiving');
  for (let d = thanksgiving - 3; d < thanksgiving; d++) set(d, DayKind.break, 'Thanksgiving break');
  set(dayOf(y, 12, 25), DayKind.holiday, 'Christmas Day');
  set(dayOf(y + 1, 1, 1), DayKind.holiday, 'New Year’s Day');
  for (let d = dayOf(y, 12, 22); d <= dayOf(y + 1, 1, 2); d++)
    set(d, DayKind.break, 'Winter break');
  set(nthWeekday(y + 1, 1, 1, 3), DayKind.holiday, 'Martin Luther King Jr. Day');
  set(nthWeekday(y + 1, 2, 1, 3), DayKind.holiday, 'Presidents’ Day');
  const spring = nthWeekday(y + 1, 3, 1, 2);
  for (let d = spring; d < spring + 5; d++) set(d, DayKind.break, 'Spring break');
  set(nthWeekday(y + 1, 5, 1, -1), DayKind.holiday, 'Memorial Day');
  set(dayOf(y + 1, 6, 19), DayKind.holiday, 'Juneteenth');
  set(nthWeekday(y, 10, 1, 2), DayKind.teacherWorkday, 'Professional development');
  set(nthWeekday(y + 1, 2, 5, 1), DayKind.teacherWorkday, 'Professional development');
  for (let d = first - 1, n = 0; n < 3; d--) {
    if (!isWeekend(d)) {
      set(d, DayKind.teacherWorkday, 'Teacher work day');
      n++;
    }
  }
  // Weather: snow in Utah and Texas winters, a hurricane day in Florida; Arizona rarely.
  const closures = school.region.state.state === 'AZ' ? 0 : rng.weighted([0.45, 0.4, 0.15]);
  for (let i = 0; i < closures; i++) {
    const month = school.region.state.state === 'FL' ? 9 : rng.pick([12, 1, 2]);
    const yy = month >= 8 ? y : y + 1;
    set(dayOf(yy, month, rng.between(3, 26)), DayKind.weatherClosure, 'Weather closure');
  }

  const instructional: number[] = [];
  let gradesDue = false;
  for (let i = 0; i < len; i++) {
    const day = year.startDay + i;
    if (isWeekend(day)) {
      kinds[i] = DayKind.break;
      notes[i] = 'Weekend';
      continue;
    }
    if (kinds[i] !== 255) continue;
    if (day >= first && instructional.length < INSTRUCTIONAL_DAYS) {
      kinds[i] = DayKind.instructional;
      instructional.push(day);
    } else if (day > first && !gradesDue) {
      kinds[i] = DayKind.teacherWorkday;
      notes[i] = 'Teacher work day (grades due)';
      gradesDue = true;
    } else {
      kinds[i] = DayKind.break;
      notes[i] = 'Summer break';
    }
  }
  if (instructional.length !== INSTRUCTIONAL_DAYS) {
    throw new Error(`calendar of ${school.code} ${year.name} has ${instructional.length} days`);
  }
  const termDays = year.terms.map((t) =>
    instructional.filter((d) => d >= t.startDay && d <= t.endDay),
  );
  const past = instructional.filter((d) => d <= world.asOf);
  const noAttendance = new Set<number>();
  const skips = Math.min(past.length, Math.max(1, Math.round(past.length / 90)));
  for (let i = 0; i < skips; i++) noAttendance.add(rng.pick(past));
  return { start: year.startDay, kinds, notes, instructional, termDays, noAttendance };
}

// --- org units -----------------------------------------------------------------------

const SPAN_SUFFIX: Record<GradeSpan, string> = {
  'K-5': 'Elementary',
  '6-8': 'Middle School',
  '9-12': 'High School',
  'K-8': 'Academy',
};
const SPAN_TUITION: Record<GradeSpan, number> = {
  'K-5': 10_800_00,
  '6-8': 11_900_00,
  '9-12': 13_400_00,
  'K-8': 11_200_00,
};

function buildSchools(world: World): void {
  const { preset, seed } = world;
  const states = preset.states.map((code) => {
    const s = STATES.find((x) => x.state === code);
    if (!s) throw new Error(`no seed data for state ${code}`);
    return s;
  });
  world.regions = states.map((state, idx) => ({
    idx,
    id: rngFor(world.idSeed, Stream.school, 1000 + idx).uuid(),
    state,
  }));
  const usedPlaces = new Map<number, number>();
  preset.schools.forEach((plan, idx) => {
    const rng = rngFor(seed, Stream.school, idx);
    const region = world.regions[idx % world.regions.length]!;
    const placeIdx = usedPlaces.get(region.idx) ?? 0;
    usedPlaces.set(region.idx, placeIdx + 1);
    const place = region.state.places[placeIdx % region.state.places.length]!;
    const micro = plan.kind === 'microschool';
    const name = micro ? `${place} Microschool` : `${place} ${SPAN_SUFFIX[plan.span]}`;
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const initials = name
      .split(/\s+/)
      .map((w) => w[0])
      .join('')
      .toUpperCase();
    const school: School = {
      idx,
      id: rngFor(world.idSeed, Stream.school, idx, 1).uuid(),
      name,
      code: `${region.state.state}-${initials}${String(idx + 1).padStart(2, '0')}`,
      kind: plan.kind,
      span: plan.span,
      region,
      timezone: region.state.timezone,
      grades: SPAN_GRADES[plan.span],
      perGrade: plan.perGrade * (micro ? 1 : rng.uniform(0.94, 1.06)),
      // One school per larger network is full and not taking inquiries on its site.
      enrollmentOpen: !(preset.schools.length > 4 && idx % 9 === 4),
      city: rng.pick(region.state.cities),
      street: `${rng.between(100, 9899)} ${rng.pick(STREETS)}`,
      slug,
      tuition:
        Math.round(
          ((micro ? 8_900_00 : SPAN_TUITION[plan.span]) * rng.uniform(0.92, 1.12)) / 10_000,
        ) * 10_000,
      calendars: [],
    };
    world.schools.push(school);
  });
  for (const school of world.schools) {
    school.calendars = world.years.map((year) => buildCalendar(world, school, year));
  }
}

// --- students ------------------------------------------------------------------------

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

function buildStudents(world: World): void {
  const { seed, schools, years } = world;
  const students = world.students;
  const create = (schoolIdx: number): Student => {
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
  };

  for (const school of schools) {
    const cals = school.calendars;
    const lowest = school.grades[0]!;
    const rng = rngFor(seed, Stream.student, 1_000_000 + school.idx);
    const size = (g: number) =>
      Math.max(1, Math.round(school.perGrade * rng.uniform(0.9, 1.1) * (g === 12 ? 0.92 : 1)));

    // Previous year: everyone who was enrolled at some point.
    const prevByGrade = new Map<number, Student[]>();
    for (const g of school.grades) {
      const list: Student[] = [];
      const n = size(g);
      for (let i = 0; i < n; i++) {
        const s = create(school.idx);
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

    // Current year: returning students move up a grade; new students fill each grade.
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
      for (let i = 0; i < fresh; i++) cohort.push(create(school.idx));
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

// --- families and guardians ----------------------------------------------------------------

const NICKNAMES: Record<string, string> = {
  Alexander: 'Alex',
  Benjamin: 'Ben',
  William: 'Will',
  Elizabeth: 'Liz',
  Matthew: 'Matt',
  Samuel: 'Sam',
  Theodore: 'Teddy',
  Isabella: 'Bella',
  Penelope: 'Penny',
  Abigail: 'Abby',
  Valentina: 'Vale',
  Nathaniel: 'Nate',
  Michael: 'Mike',
};

/** Lower-case ASCII for the local part of a synthetic email address. */
export function emailPart(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

function firstNameFor(rng: Rng, gender: Student['gender']): string {
  if (gender === 'female') return rng.pick(FIRST_NAMES_F);
  if (gender === 'male') return rng.pick(FIRST_NAMES_M);
  return rng.pick(rng.chance(0.5) ? FIRST_NAMES_F : FIRST_NAMES_M);
}

/** Low-discrepancy uniform for an index: keeps category shares exact even for 40 families. */
function spread(seed: number, idx: number, salt: number): number {
  const x = (idx + 1) * 0.6180339887498949 + hashFloat(seed, salt);
  return x - Math.floor(x);
}

function payerProfile(u: number): PayerProfile {
  if (u < 0.45) return 'autopay';
  if (u < 0.74) return 'prompt';
  if (u < 0.9) return 'late';
  if (u < 0.97) return 'delinquent';
  return 'defaulting';
}

function buildFamilies(world: World): void {
  const { seed, students, schools } = world;
  const rng = rngFor(seed, Stream.family, 0);
  // Siblings live in one state; group students by the region of their (last) school.
  const byRegion = new Map<number, number[]>();
  for (const s of students) {
    const r = schools[s.schoolIdx]!.region.idx;
    const list = byRegion.get(r) ?? [];
    list.push(s.idx);
    byRegion.set(r, list);
  }
  const guardianIds = world.ids(Table.guardian, Math.ceil(students.length * 1.5));
  for (const [regionIdx, members] of [...byRegion.entries()].sort((a, b) => a[0] - b[0])) {
    rng.shuffle(members);
    const region = world.regions[regionIdx]!;
    let i = 0;
    while (i < members.length) {
      const size = Math.min(members.length - i, 1 + rng.weighted([0.72, 0.22, 0.06]));
      const kids = members.slice(i, i + size).sort((a, b) => a - b);
      i += size;
      const idx = world.families.length;
      const frng = rngFor(seed, Stream.family, idx, 1);
      const lastName = frng.pick(LAST_NAMES);
      const family: Family = {
        idx,
        lastName,
        students: kids,
        guardians: [],
        street: `${frng.between(100, 9899)} ${frng.pick(STREETS)}`,
        city: frng.pick(region.state.cities),
        state: region.state.state,
        planMonths: frng.chance(0.35) ? 12 : 10,
        payer: payerProfile(spread(seed, idx, 77)),
        createdMs: Math.min(...kids.map((k) => students[k]!.createdMs)),
      };
      world.families.push(family);
      kids.forEach((k, order) => {
        const s = students[k]!;
        const srng = rngFor(seed, Stream.student, k, 5);
        s.familyIdx = idx;
        s.siblingOrder = order;
        s.firstName = firstNameFor(srng, s.gender);
        s.lastName = srng.chance(0.9) ? lastName : srng.pick(LAST_NAMES);
        s.middleName = srng.chance(0.6) ? firstNameFor(srng, s.gender) : null;
        s.preferredName =
          NICKNAMES[s.firstName] && srng.chance(0.5) ? NICKNAMES[s.firstName]! : null;
      });
      const two = frng.chance(0.72);
      const firstIsMother = frng.chance(0.55);
      const relationships = two
        ? [
            firstIsMother ? 'mother' : 'father',
            frng.chance(0.85) ? (firstIsMother ? 'father' : 'mother') : 'stepparent',
          ]
        : [frng.pick(['mother', 'mother', 'father', 'grandparent', 'guardian', 'foster_parent'])];
      for (const relationship of relationships) {
        const gIdx = world.guardians.length;
        const female = relationship === 'mother' || (relationship !== 'father' && frng.chance(0.6));
        const first = frng.pick(female ? FIRST_NAMES_F : FIRST_NAMES_M);
        const last = frng.chance(0.85) ? lastName : frng.pick(LAST_NAMES);
        world.guardians.push({
          idx: gIdx,
          id: guardianIds.at(gIdx),
          familyIdx: idx,
          firstName: first,
          lastName: last,
          email: `${emailPart(first)}.${emailPart(last)}.${gIdx + 1}@${frng.pick(['example.com', 'example.net', 'example.org'])}`,
          phone: `+1-${family.city.area}-555-${String(100 + frng.int(100)).padStart(4, '0')}`,
          relationship,
          userId: null,
        });
        family.guardians.push(gIdx);
      }
    }
  }
}

// --- courses and classes -------------------------------------------------------------------

const CORE = ['english_language_arts', 'mathematics', 'science', 'social_studies'] as const;
const CORE_CODES = ['ELA', 'MATH', 'SCI', 'SS'];
const CORE_NAMES = ['English Language Arts', 'Mathematics', 'Science', 'Social Studies'];
const HIGH_SCHOOL: Record<string, { code: string; name: string }[]> = {
  english_language_arts: [9, 10, 11, 12].map((g) => ({ code: `ENG-${g}`, name: `English ${g}` })),
  mathematics: [
    { code: 'ALG1', name: 'Algebra I' },
    { code: 'GEOM', name: 'Geometry' },
    { code: 'ALG2', name: 'Algebra II' },
    { code: 'PRECALC', name: 'Precalculus' },
  ],
  science: [
    { code: 'BIO', name: 'Biology' },
    { code: 'CHEM', name: 'Chemistry' },
    { code: 'PHYS', name: 'Physics' },
    { code: 'ENVSCI', name: 'Environmental Science' },
  ],
  social_studies: [
    { code: 'WHIST', name: 'World History' },
    { code: 'USHIST', name: 'U.S. History' },
    { code: 'GOVECON', name: 'Government & Economics' },
    { code: 'CIVICS', name: 'Civics & Law' },
  ],
};
const ELECTIVES: { subject: string; code: string; name: string; bands: number[] }[] = [
  { subject: 'art', code: 'ART', name: 'Art', bands: [0, 1, 2, 3] },
  { subject: 'music', code: 'MUS', name: 'Music', bands: [0, 1, 2, 3] },
  { subject: 'physical_education', code: 'PE', name: 'Physical Education', bands: [0, 1, 2, 3] },
  { subject: 'world_languages', code: 'SPAN', name: 'Spanish', bands: [2, 3] },
  { subject: 'computer_science', code: 'CS', name: 'Computer Science', bands: [2, 3] },
];

interface CourseIndex {
  core: Map<string, number>; // `${subject}:${grade}`
  multiAge: Map<string, number>; // `${subject}:${band}`
  electives: Map<number, number[]>; // band → course idx
}
const courseIndex = new WeakMap<World, CourseIndex>();

function buildCourses(world: World): void {
  const ids = world.ids(Table.course, 200);
  const index: CourseIndex = { core: new Map(), multiAge: new Map(), electives: new Map() };
  const add = (code: string, name: string, subject: string, grades: number[]): number => {
    const idx = world.courses.length;
    world.courses.push({
      idx,
      id: ids.at(idx),
      code,
      name,
      subject,
      credits: grades.every((g) => g >= 9) ? 0.5 : 1,
      grades,
    });
    return idx;
  };
  CORE.forEach((subject, si) => {
    for (let g = 0; g <= 12; g++) {
      const hs = g >= 9 ? HIGH_SCHOOL[subject]![g - 9]! : null;
      const label = g === 0 ? 'Kindergarten' : `Grade ${g}`;
      const idx = hs
        ? add(hs.code, hs.name, subject, [g])
        : add(`${CORE_CODES[si]}-${GRADE_LABELS[g]}`, `${label} ${CORE_NAMES[si]}`, subject, [g]);
      index.core.set(`${subject}:${g}`, idx);
    }
    for (let band = 0; band < 3; band++) {
      const grades = GRADE_LABELS.map((_, g) => g).filter((g) => bandOf(g) === band);
      const idx = add(
        `MA-${CORE_CODES[si]}-${BAND_LABELS[band]!.replace('-', '')}`,
        `Multi-age ${CORE_NAMES[si]} ${BAND_LABELS[band]}`,
        subject,
        grades,
      );
      index.multiAge.set(`${subject}:${band}`, idx);
    }
  });
  for (const e of ELECTIVES) {
    for (const band of e.bands) {
      const grades = GRADE_LABELS.map((_, g) => g).filter((g) => bandOf(g) === band);
      const idx = add(
        `${e.code}-${BAND_LABELS[band]!.replace('-', '')}`,
        `${e.name} ${BAND_LABELS[band]}`,
        e.subject,
        grades,
      );
      index.electives.set(band, [...(index.electives.get(band) ?? []), idx]);
    }
  }
  courseIndex.set(world, index);
}

/** Whether a school year's term has begun by as-of (classes of later terms do not exist yet). */
export function termStarted(world: World, yearIdx: number, termIdx: number): boolean {
  return world.years[yearIdx]!.terms[termIdx]!.startDay <= world.asOf;
}

function buildClasses(world: World): void {
  const { seed, schools, students } = world;
  const index = courseIndex.get(world)!;
  // Upper bound: every student in ~7 sections of ~5 per term, two terms, two years.
  const ids = world.ids(Table.class, Math.ceil((students.length * 7 * 4) / 12) + 1000);
  for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
    for (let termIdx = 0; termIdx < 2; termIdx++) {
      if (!termStarted(world, yearIdx, termIdx)) continue;
      for (const school of schools) {
        const days = school.calendars[yearIdx]!.termDays[termIdx]!;
        const first = days[0]!;
        const last = days[days.length - 1]!;
        const micro = school.kind === 'microschool';
        // Cohorts: a grade in a school, a multi-age band in a microschool.
        const cohorts = new Map<number, number[]>();
        for (const s of students) {
          const e = s.enroll[yearIdx];
          if (!e || e.schoolIdx !== school.idx) continue;
          if (e.entryDay > last || (e.exitDay >= 0 && e.exitDay < first)) continue;
          const key = micro ? bandOf(e.grade) : e.grade;
          const list = cohorts.get(key) ?? [];
          list.push(s.idx);
          cohorts.set(key, list);
        }
        let period = 0;
        // Band-level courses (electives) are shared by several grade cohorts: number their
        // sections across the school's term, not per cohort.
        const sectionsSoFar = new Map<number, number>();
        for (const [key, members] of [...cohorts.entries()].sort((a, b) => a[0] - b[0])) {
          const band = micro ? key : bandOf(key);
          const core = CORE.map((subject) =>
            micro
              ? index.multiAge.get(`${subject}:${band}`)!
              : index.core.get(`${subject}:${key}`)!,
          );
          const electives = index.electives.get(band) ?? [];
          const takers = new Map<number, number[]>();
          for (const c of core) takers.set(c, [...members]);
          for (const k of members) {
            const r = rngFor(seed, Stream.roster, k, yearIdx * 2 + termIdx);
            const n = Math.min(electives.length, 1 + r.weighted([0.3, 0.45, 0.25]));
            const picks = r.shuffle([...electives]).slice(0, n);
            for (const c of picks) {
              const list = takers.get(c);
              if (list) list.push(k);
              else takers.set(c, [k]);
            }
          }
          for (const [courseIdx, list] of [...takers.entries()].sort((a, b) => a[0] - b[0])) {
            const cap = micro ? 16 : band <= 1 ? 24 : 28;
            const sections = Math.ceil(list.length / cap);
            const r = rngFor(
              seed,
              Stream.roster,
              1_000_000 + school.idx,
              courseIdx,
              yearIdx * 2 + termIdx,
            );
            const order = r.shuffle([...list]);
            const numbered = sectionsSoFar.get(courseIdx) ?? 0;
            sectionsSoFar.set(courseIdx, numbered + sections);
            for (let sec = 0; sec < sections; sec++) {
              const roster = order.filter((_, i) => i % sections === sec).sort((a, b) => a - b);
              world.classes.push(
                makeClass(
                  world,
                  ids,
                  school,
                  yearIdx,
                  termIdx,
                  courseIdx,
                  numbered + sec,
                  period++,
                  cap,
                  roster,
                  first,
                  last,
                ),
              );
            }
          }
        }
      }
    }
  }
}

function makeClass(
  world: World,
  ids: IdSpace,
  school: School,
  yearIdx: number,
  termIdx: number,
  courseIdx: number,
  section: number,
  period: number,
  capacity: number,
  roster: number[],
  firstDay: number,
  lastDay: number,
): ClassSection {
  const idx = world.classes.length;
  const n = roster.length;
  const cls: ClassSection = {
    idx,
    id: ids.at(idx),
    courseIdx,
    schoolIdx: school.idx,
    yearIdx,
    termIdx,
    section: String(section + 1).padStart(2, '0'),
    period: (period % 7) + 1,
    room: `Room ${100 * (1 + (period % 3)) + (period % 40) + 1}`,
    capacity,
    teachers: [],
    students: Int32Array.from(roster),
    entry: new Int32Array(n),
    exit: new Int32Array(n).fill(-1),
    status: new Uint8Array(n),
  };
  const termOver = lastDay <= world.asOf;
  const cal = school.calendars[yearIdx]!;
  const termDays = cal.termDays[termIdx]!;
  roster.forEach((k, i) => {
    const e = world.students[k]!.enroll[yearIdx]!;
    const rng = rngFor(world.seed, Stream.classEnrollment, idx, k);
    cls.entry[i] = Math.max(firstDay, e.entryDay);
    if (e.exitDay >= 0 && e.exitDay < lastDay) {
      cls.exit[i] = e.exitDay;
      cls.status[i] = ClassStatus.withdrawn;
      return;
    }
    if (rng.chance(0.012)) {
      // A schedule change: the student drops this section a few weeks in.
      const from = termDays.indexOf(cls.entry[i]!);
      const drop = termDays[Math.min(termDays.length - 1, Math.max(0, from) + rng.between(5, 30))]!;
      if (drop <= world.asOf && drop < lastDay) {
        cls.exit[i] = drop;
        cls.status[i] = ClassStatus.dropped;
        return;
      }
    }
    if (termOver) {
      cls.exit[i] = lastDay;
      cls.status[i] = ClassStatus.completed;
    }
  });
  return cls;
}

// --- staff ------------------------------------------------------------------------------

const SECTIONS_PER_TEACHER = 5.5;

function buildStaff(world: World): void {
  const { seed, schools, classes } = world;
  const ids = world.ids(Table.staff, Math.ceil(world.students.length / 8) + 200);
  const byTerm = new Map<string, ClassSection[]>();
  for (const c of classes) {
    const key = `${c.schoolIdx}:${c.yearIdx}:${c.termIdx}`;
    const list = byTerm.get(key) ?? [];
    list.push(c);
    byTerm.set(key, list);
  }
  for (const school of schools) {
    const rng = rngFor(seed, Stream.staff, school.idx);
    const enrolled = world.students.filter((s) => s.schoolIdx === school.idx).length;
    const add = (role: StaffRole, title: string, type: Staff['employmentType'] = 'full_time') => {
      const idx = world.staff.length;
      const female = rng.chance(0.7);
      const first = rng.pick(female ? FIRST_NAMES_F : FIRST_NAMES_M);
      const last = rng.pick(LAST_NAMES);
      const s: Staff = {
        idx,
        id: ids.at(idx),
        schoolIdx: school.idx,
        role,
        title,
        firstName: first,
        lastName: last,
        email: `${emailPart(first)}.${emailPart(last)}.${idx + 1}@staff.example.org`,
        employmentType: type,
        employmentStatus: rng.chance(0.02) ? 'on_leave' : 'active',
        subjects: new Set(),
        hireDay: world.years[0]!.startDay - rng.between(30, 365 * 15),
        userId: null,
      };
      world.staff.push(s);
      return s;
    };
    const micro = school.kind === 'microschool';
    add('principal', micro ? 'Head of School' : 'Principal').employmentStatus = 'active';
    if (enrolled > 500) add('assistant_principal', 'Assistant Principal');
    add('office', micro ? 'Operations Lead' : 'Office Manager');
    if (enrolled > 600) add('office', 'Registrar');
    if (enrolled > 300) add('counselor', 'School Counselor');

    const terms = [...byTerm.entries()].filter(([k]) => k.startsWith(`${school.idx}:`));
    const most = Math.max(1, ...terms.map(([, list]) => list.length));
    const teacherCount = Math.max(1, Math.ceil(most / SECTIONS_PER_TEACHER));
    const teachers = Array.from({ length: teacherCount }, (_, i) =>
      add(
        'teacher',
        micro ? 'Learning Guide' : 'Teacher',
        i % 11 === 10 ? 'part_time' : 'full_time',
      ),
    );
    const aides =
      enrolled > 200 ? [add('aide', 'Instructional Aide', 'part_time')] : ([] as Staff[]);
    if (enrolled > 150) add('teacher', 'Substitute Teacher', 'substitute');

    for (const [, list] of terms.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      // Subject order keeps each teacher on one or two subjects, term after term.
      const ordered = [...list].sort(
        (a, b) =>
          world.courses[a.courseIdx]!.subject.localeCompare(world.courses[b.courseIdx]!.subject) ||
          a.idx - b.idx,
      );
      ordered.forEach((c, k) => {
        const t = teachers[Math.floor((k * teacherCount) / ordered.length)]!;
        c.teachers.push({ staffIdx: t.idx, role: 'primary' });
        t.subjects.add(world.courses[c.courseIdx]!.subject);
        const r = hashFloat(seed, Stream.staff, c.idx);
        if (r < 0.03 && teacherCount > 1) {
          const co = teachers[(teachers.indexOf(t) + 1) % teacherCount]!;
          c.teachers.push({ staffIdx: co.idx, role: 'co_teacher' });
        } else if (
          r > 0.9 &&
          aides.length > 0 &&
          bandOf(world.courses[c.courseIdx]!.grades[0]!) === 0
        ) {
          c.teachers.push({ staffIdx: aides[0]!.idx, role: 'aide' });
        }
      });
    }
  }
}

// --- ESA -----------------------------------------------------------------------------

const ESA_PROGRAMS: Omit<EsaProgram, 'idx' | 'id'>[] = [
  { state: 'AZ', name: 'Empowerment Scholarship Account', award: 7_400_00, since: 2011 },
  {
    state: 'FL',
    name: 'Family Empowerment Scholarship – Educational Options',
    award: 8_200_00,
    since: 2019,
  },
  {
    state: 'FL',
    name: 'Family Empowerment Scholarship – Unique Abilities',
    award: 10_400_00,
    since: 2021,
  },
  { state: 'UT', name: 'Utah Fits All Scholarship', award: 8_000_00, since: 2024 },
  { state: 'TX', name: 'Texas Education Freedom Accounts', award: 10_474_00, since: 2026 },
];

function buildEsa(world: World): void {
  const { seed, students, schools, years } = world;
  const ids = world.ids(Table.esaProgram, 16);
  world.esaPrograms = ESA_PROGRAMS.map((p, idx) => ({ ...p, idx, id: ids.at(idx) }));
  let disbursementOrdinal = 0;
  for (const s of students) {
    for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
      const e = s.enroll[yearIdx];
      if (!e) continue;
      const school = schools[e.schoolIdx]!;
      const year = years[yearIdx]!;
      const rng = rngFor(seed, Stream.esa, s.idx, yearIdx);
      const state = school.region.state.state;
      const options = world.esaPrograms.filter(
        (p) => p.state === state && p.since <= year.startYear,
      );
      if (options.length === 0 || !rng.chance(s.iep ? 0.6 : 0.38)) continue;
      const program =
        options.length > 1
          ? (options.find((p) => p.award > 9_000_00 && s.iep) ?? options[0]!)
          : options[0]!;
      // Families apply in the spring before the year, or right after a mid-year start.
      const opened = e.midYearEntry
        ? e.entryDay - rng.between(0, 10)
        : dayOf(year.startYear, 2, 1) + rng.int(170);
      const createdMs = localMs(school.timezone, opened, rng.uniform(8, 22));
      if (createdMs > world.cutoffMs) continue;
      const fraction = e.midYearEntry
        ? (INSTRUCTIONAL_DAYS - school.calendars[yearIdx]!.instructional.indexOf(e.entryDay)) /
          INSTRUCTIONAL_DAYS
        : 1;
      const requested = Math.round((program.award * fraction) / 100) * 100;
      const staysDraft = rng.chance(0.04);
      const submittedMs = createdMs + rng.between(0, 20) * DAY_MS + rng.int(8 * 3600) * 1000;
      const reviewMs = submittedMs + rng.between(2, 10) * DAY_MS;
      const decidedMs = reviewMs + rng.between(5, 60) * DAY_MS + rng.int(6 * 3600) * 1000;
      const approved = rng.chance(s.iep ? 0.9 : 0.84);
      const withdrawMs = rng.chance(0.06)
        ? createdMs + rng.uniform(0.2, 0.9) * (decidedMs - createdMs)
        : Infinity;
      const now = world.cutoffMs;
      let status: EsaStatus;
      let updatedMs: number;
      if (withdrawMs <= now) {
        status = 'withdrawn';
        updatedMs = withdrawMs;
      } else if (staysDraft || submittedMs > now) {
        status = 'draft';
        updatedMs = createdMs;
      } else if (decidedMs <= now) {
        status = approved ? 'approved' : 'denied';
        updatedMs = decidedMs;
      } else if (reviewMs <= now) {
        status = 'under_review';
        updatedMs = reviewMs;
      } else {
        status = 'submitted';
        updatedMs = submittedMs;
      }
      const submitted =
        status === 'draft' || (status === 'withdrawn' && (staysDraft || submittedMs > withdrawMs))
          ? null
          : submittedMs;
      const awarded =
        status === 'approved'
          ? rng.chance(0.9)
            ? requested
            : Math.round((requested * rng.uniform(0.8, 0.97)) / 100) * 100
          : null;
      const app: EsaApplication = {
        ordinal: world.esa.length,
        studentIdx: s.idx,
        yearIdx,
        programIdx: program.idx,
        schoolIdx: school.idx,
        status,
        requested,
        awarded,
        createdMs,
        submittedMs: submitted,
        decidedMs: status === 'approved' || status === 'denied' ? decidedMs : null,
        updatedMs: Math.floor(updatedMs),
        note: status === 'denied' ? rng.pick(DENIAL_NOTES) : null,
        disbursements: [],
      };
      if (status === 'approved' && awarded !== null && awarded > 0) {
        const decidedDay = Math.floor(decidedMs / DAY_MS);
        const quarters = [
          dayOf(year.startYear, 7, 15),
          dayOf(year.startYear, 10, 15),
          dayOf(year.startYear + 1, 1, 15),
          dayOf(year.startYear + 1, 4, 15),
        ];
        const share = Math.floor(awarded / 4 / 100) * 100;
        quarters.forEach((q, i) => {
          const amount = i === 3 ? awarded - share * 3 : share;
          if (amount <= 0) return;
          let scheduled = Math.max(q, decidedDay + 10);
          while (isWeekend(scheduled)) scheduled++;
          const paidOn = scheduled + rng.between(0, 3);
          const left =
            e.exitDay >= 0 &&
            e.exitDay < scheduled &&
            e.status !== 'completed' &&
            e.status !== 'graduated';
          const status: EsaDisbursement['status'] = left
            ? 'cancelled'
            : paidOn <= world.asOf
              ? 'disbursed'
              : 'scheduled';
          app.disbursements.push({
            ordinal: disbursementOrdinal++,
            amount,
            scheduledDay: scheduled,
            disbursedDay: status === 'disbursed' ? paidOn : -1,
            status,
          });
        });
      }
      world.esa.push(app);
      world.esaByStudentYear.set(s.idx * 2 + yearIdx, app);
    }
  }
}

// --- demo logins -----------------------------------------------------------------------

function pickDemo(world: World): DemoLogins {
  const school = world.schools[0]!;
  const principal = world.staff.find((s) => s.schoolIdx === school.idx && s.role === 'principal')!;
  const teaching = new Set<number>();
  for (const c of world.classes) {
    if (c.schoolIdx === school.idx && c.yearIdx === 1) {
      for (const t of c.teachers) if (t.role === 'primary') teaching.add(t.staffIdx);
    }
  }
  const teacher =
    world.staff.find((s) => s.role === 'teacher' && teaching.has(s.idx)) ??
    world.staff.find((s) => s.schoolIdx === school.idx && s.role === 'teacher')!;
  const activeAt = (k: number) => {
    const s = world.students[k]!;
    return s.status === 'active' && s.schoolIdx === school.idx;
  };
  const family =
    world.families.find((f) => f.students.length >= 2 && f.students.every(activeAt)) ??
    world.families.find((f) => f.students.some(activeAt)) ??
    world.families[0]!;
  const parent = world.guardians[family.guardians[0]!]!;
  const users = world.ids(Table.user, 16);
  principal.userId = users.at(0);
  teacher.userId = users.at(1);
  parent.userId = users.at(2);
  const emails = {
    principal: 'principal@demo.example.org',
    teacher: 'teacher@demo.example.org',
    parent: 'parent@demo.example.org',
  };
  principal.email = emails.principal;
  teacher.email = emails.teacher;
  parent.email = emails.parent;
  return {
    principalStaffIdx: principal.idx,
    teacherStaffIdx: teacher.idx,
    parentGuardianIdx: parent.idx,
    principalUserId: principal.userId,
    teacherUserId: teacher.userId,
    parentUserId: parent.userId,
    emails,
  };
}
