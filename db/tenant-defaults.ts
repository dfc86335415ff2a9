import type { SystemRole } from './schema/people.js';

/**
 * What every new tenant starts with: permission keys, the system roles and what each may
 * do, and the default grading scale. Relationship scoping (a teacher's own classes, a
 * parent's own children, a principal's own school) is applied on top by the API.
 */

const RESOURCES = {
  org_units: 'Schools and the org hierarchy',
  sessions: 'School years, terms and grading periods',
  calendars: 'School calendars',
  users: 'User accounts',
  roles: 'Roles and permissions',
  students: 'Student records',
  guardians: 'Guardians and their links to students',
  staff: 'Staff records',
  courses: 'Courses',
  classes: 'Classes and sections',
  enrollments: 'Class and school enrollments',
  attendance: 'Attendance',
  grades: 'Assignments, scores and grades',
  leads: 'Admissions leads',
  finance: 'Accounts, invoices and payments',
  esa: 'ESA applications and disbursements',
  metrics: 'Metrics',
  dashboards: 'Leadership dashboards',
  audit: 'Audit and record-access logs',
} as const;
type Resource = keyof typeof RESOURCES;

const EXTRA = {
  'students.export': 'Export everything held about a student',
  'students.erase': 'Erase a student’s personal data',
  'esa.decide': 'Approve or deny ESA applications',
  'finance.void': 'Void invoices',
} as const;

export const PERMISSIONS: Record<string, string> = {
  ...Object.fromEntries(
    Object.entries(RESOURCES).flatMap(([r, label]) => [
      [`${r}.read`, `Read: ${label}`],
      [`${r}.write`, `Create, change and delete: ${label}`],
    ]),
  ),
  ...EXTRA,
};
export type Permission = keyof typeof PERMISSIONS;

const read = (...rs: Resource[]) => rs.map((r) => `${r}.read`);
const write = (...rs: Resource[]) => rs.map((r) => `${r}.write`);
const ALL = Object.keys(PERMISSIONS);

export const SYSTEM_ROLE_DEFINITIONS: Record<
  SystemRole,
  { name: string; description: string; permissions: string[] }
> = {
  platform_admin: {
    name: 'Platform admin',
    description: 'Operates the platform for every tenant',
    permissions: ALL,
  },
  network_admin: {
    name: 'Network admin',
    description: 'Everything in the tenant',
    permissions: ALL,
  },
  principal: {
    name: 'Principal',
    description: 'Leads a school: everything about their school',
    permissions: ALL.filter((p) => !['roles.write', 'students.erase', 'audit.read'].includes(p)),
  },
  office_admin: {
    name: 'Office admin',
    description: 'Runs a school office: records, admissions, billing',
    permissions: [
      ...read('org_units', 'sessions', 'calendars', 'users', 'students', 'guardians', 'staff'),
      ...read('courses', 'classes', 'enrollments', 'attendance', 'leads', 'finance', 'esa'),
      ...write('students', 'guardians', 'enrollments', 'attendance', 'leads', 'finance', 'esa'),
      ...write('calendars'),
    ],
  },
  teacher: {
    name: 'Teacher',
    description: 'Teaches classes: rosters, attendance and grades of their own classes',
    permissions: [
      ...read('org_units', 'sessions', 'calendars', 'students', 'guardians', 'courses'),
      ...read('classes', 'enrollments', 'attendance', 'grades'),
      ...write('attendance', 'grades'),
    ],
  },
  coach: {
    name: 'Coach',
    description: 'Guides a microschool: like a teacher, for their own learners',
    permissions: [
      ...read('org_units', 'sessions', 'calendars', 'students', 'guardians', 'courses'),
      ...read('classes', 'enrollments', 'attendance', 'grades', 'leads'),
      ...write('attendance', 'grades'),
    ],
  },
  parent: {
    name: 'Parent',
    description: 'Sees their own children and their own family account',
    permissions: [
      ...read('org_units', 'sessions', 'calendars', 'students', 'classes', 'enrollments'),
      ...read('attendance', 'grades', 'finance', 'esa'),
      ...write('esa'),
    ],
  },
  student: {
    name: 'Student',
    description: 'Sees their own record, classes, attendance and grades',
    permissions: read(
      'org_units',
      'sessions',
      'calendars',
      'students',
      'classes',
      'enrollments',
      'attendance',
      'grades',
    ),
  },
};

/** Leadership roles: the ones that see dashboards. */
export const LEADERSHIP_ROLES: readonly SystemRole[] = [
  'platform_admin',
  'network_admin',
  'principal',
];

export interface GradeBand {
  letter: string;
  min_percent: number;
  points: number;
}

/** A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, F below: the 4.0 scale. */
export const DEFAULT_GRADING_SCALE: GradeBand[] = [
  { letter: 'A', min_percent: 90, points: 4 },
  { letter: 'B', min_percent: 80, points: 3 },
  { letter: 'C', min_percent: 70, points: 2 },
  { letter: 'D', min_percent: 60, points: 1 },
  { letter: 'F', min_percent: 0, points: 0 },
];
