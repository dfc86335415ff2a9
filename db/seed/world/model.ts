import type { StatePlaces } from '../names.js';
import type { GradeSpan, Preset } from '../presets.js';
import { IdSpace } from '../random.js';

/**
 * The synthetic network held in memory: schools and their calendars, students with their
 * enrollments, families, staff, courses, classes with rosters, ESA applications.
 *
 * Only entities that other tables point at, or whose totals must agree across tables, live
 * here (tens of thousands of small objects for `large`). Row-per-day and row-per-score data
 * (attendance, assignments, scores, leads, invoices, payments) is derived again from
 * per-entity random streams each time a table is written, never stored. The builders live
 * beside this file, one per kind of entity, and db/seed/world/index.ts runs them in order.
 */

export const INSTRUCTIONAL_DAYS = 180;
export const GRADE_LABELS = ['K', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
export const BAND_LABELS = ['K-2', '3-5', '6-8', '9-12'];
export const SPAN_GRADES: Record<GradeSpan, number[]> = {
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

/** Clamps a generated instant so nothing lies after the as-of cutoff. */
export function atMost(world: World, ms: number): number {
  return ms < world.cutoffMs ? ms : world.cutoffMs;
}
