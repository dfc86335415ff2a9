/**
 * The OneRoster 1.2 CSV binding as far as Homeroom reads and writes it: per file, the
 * columns the standard defines (1.2, plus the 1.1 columns that differ), which of them
 * Homeroom maps, and how each is checked. Columns of the standard that Homeroom does not
 * map are accepted and ignored; `metadata.*` extension columns likewise, except the
 * `metadata.homeroom.*` ones Homeroom writes itself to keep what OneRoster cannot say.
 */

export type ColumnCheck =
  | { kind: 'id' }
  | { kind: 'text'; required?: boolean; max?: number }
  | { kind: 'ref'; target: FileKey; required?: boolean }
  | { kind: 'refs'; target: FileKey; required?: boolean }
  | { kind: 'date'; required?: boolean }
  | { kind: 'datetime'; required?: boolean }
  | { kind: 'enum'; values: readonly string[]; required?: boolean }
  | { kind: 'bool'; required?: boolean }
  | { kind: 'number'; required?: boolean; min?: number };

export interface FileSpec {
  key: FileKey;
  /** Columns Homeroom reads, in the standard's order; they become the staging table. */
  columns: Record<string, ColumnCheck>;
  /** Columns of the standard (1.2 or 1.1) that Homeroom accepts and ignores. */
  ignored: readonly string[];
  /** Columns that must be in the header (beyond sourcedId). */
  requiredHeaders: readonly string[];
}

export const FILE_KEYS = [
  'orgs',
  'academicSessions',
  'courses',
  'classes',
  'users',
  'roles',
  'demographics',
  'enrollments',
  'categories',
  'lineItems',
  'results',
] as const;
export type FileKey = (typeof FILE_KEYS)[number];

/** Files of the standard Homeroom neither reads nor writes (listed `absent` on export). */
export const UNMAPPED_FILES = [
  'classResources',
  'courseResources',
  'resources',
  'userResources',
  'userProfiles',
  'scoreScales',
  'lineItemLearningObjectiveIds',
  'lineItemScoreScales',
  'resultLearningObjectiveIds',
  'resultScoreScales',
] as const;

export const STATUS_VALUES = ['active', 'tobedeleted'] as const;
const common = {
  sourcedId: { kind: 'id' },
  status: { kind: 'enum', values: STATUS_VALUES },
  dateLastModified: { kind: 'datetime' },
} satisfies Record<string, ColumnCheck>;

export const ORG_TYPES = ['department', 'school', 'district', 'local', 'state', 'national'];
export const SESSION_TYPES = ['gradingPeriod', 'semester', 'schoolYear', 'term'];
export const ROLE_VALUES = [
  'administrator',
  'aide',
  'guardian',
  'parent',
  'proctor',
  'relative',
  'student',
  'teacher',
  // 1.2 roles Homeroom has no person for; accepted, mapped to nothing.
  'counselor',
  'districtAdministrator',
  'principal',
  'siteAdministrator',
  'systemAdministrator',
];
export const ENROLLMENT_ROLES = ['administrator', 'proctor', 'student', 'teacher', 'aide'];
export const SCORE_STATUSES = [
  'exempt',
  'fully graded',
  'not submitted',
  'partially graded',
  'submitted',
];
export const SEX_VALUES = ['male', 'female', 'other', 'unspecified'];

export const SPECS: Record<FileKey, FileSpec> = {
  orgs: {
    key: 'orgs',
    columns: {
      ...common,
      name: { kind: 'text', required: true, max: 200 },
      type: { kind: 'enum', values: ORG_TYPES, required: true },
      identifier: { kind: 'text', max: 64 },
      parentSourcedId: { kind: 'ref', target: 'orgs' },
      'metadata.homeroom.kind': {
        kind: 'enum',
        values: ['network', 'region', 'district', 'school', 'microschool', 'campus'],
      },
    },
    ignored: [],
    requiredHeaders: ['name', 'type'],
  },
  academicSessions: {
    key: 'academicSessions',
    columns: {
      ...common,
      title: { kind: 'text', required: true, max: 200 },
      type: { kind: 'enum', values: SESSION_TYPES, required: true },
      startDate: { kind: 'date', required: true },
      endDate: { kind: 'date', required: true },
      parentSourcedId: { kind: 'ref', target: 'academicSessions' },
      'metadata.homeroom.orgSourcedId': { kind: 'ref', target: 'orgs' },
    },
    ignored: ['schoolYear'],
    requiredHeaders: ['title', 'type', 'startDate', 'endDate'],
  },
  courses: {
    key: 'courses',
    columns: {
      ...common,
      title: { kind: 'text', required: true, max: 200 },
      courseCode: { kind: 'text', max: 64 },
      grades: { kind: 'text', max: 200 },
      orgSourcedId: { kind: 'ref', target: 'orgs', required: true },
      subjects: { kind: 'text', max: 200 },
    },
    ignored: ['schoolYearSourcedId', 'subjectCodes'],
    requiredHeaders: ['title', 'orgSourcedId'],
  },
  classes: {
    key: 'classes',
    columns: {
      ...common,
      title: { kind: 'text', required: true, max: 200 },
      courseSourcedId: { kind: 'ref', target: 'courses', required: true },
      classCode: { kind: 'text', max: 64 },
      location: { kind: 'text', max: 100 },
      schoolSourcedId: { kind: 'ref', target: 'orgs', required: true },
      termSourcedIds: { kind: 'refs', target: 'academicSessions', required: true },
    },
    ignored: ['grades', 'classType', 'subjects', 'subjectCodes', 'periods'],
    requiredHeaders: ['title', 'courseSourcedId', 'schoolSourcedId', 'termSourcedIds'],
  },
  users: {
    key: 'users',
    columns: {
      ...common,
      enabledUser: { kind: 'bool' },
      givenName: { kind: 'text', required: true, max: 100 },
      familyName: { kind: 'text', required: true, max: 100 },
      middleName: { kind: 'text', max: 100 },
      identifier: { kind: 'text', max: 64 },
      email: { kind: 'text', max: 254 },
      phone: { kind: 'text', max: 40 },
      agentSourcedIds: { kind: 'refs', target: 'users' },
      grades: { kind: 'text', max: 100 },
      preferredGivenName: { kind: 'text', max: 100 },
      primaryOrgSourcedId: { kind: 'ref', target: 'orgs' },
      // 1.1: the role and the orgs are on the user (1.2 moved them to roles.csv).
      role: { kind: 'enum', values: ROLE_VALUES },
      orgSourcedIds: { kind: 'refs', target: 'orgs' },
    },
    ignored: [
      'username',
      'userIds',
      'sms',
      'password',
      'userMasterIdentifier',
      'resourceSourcedIds',
      'preferredMiddleName',
      'preferredFamilyName',
      'pronouns',
    ],
    requiredHeaders: ['givenName', 'familyName'],
  },
  roles: {
    key: 'roles',
    columns: {
      ...common,
      userSourcedId: { kind: 'ref', target: 'users', required: true },
      roleType: { kind: 'enum', values: ['primary', 'secondary'], required: true },
      role: { kind: 'enum', values: ROLE_VALUES, required: true },
      beginDate: { kind: 'date' },
      endDate: { kind: 'date' },
      orgSourcedId: { kind: 'ref', target: 'orgs', required: true },
    },
    ignored: ['userProfileSourcedId'],
    requiredHeaders: ['userSourcedId', 'roleType', 'role', 'orgSourcedId'],
  },
  demographics: {
    key: 'demographics',
    columns: {
      ...common,
      birthDate: { kind: 'date' },
      sex: { kind: 'enum', values: SEX_VALUES },
    },
    ignored: [
      'americanIndianOrAlaskaNative',
      'asian',
      'blackOrAfricanAmerican',
      'nativeHawaiianOrOtherPacificIslander',
      'white',
      'demographicRaceTwoOrMoreRaces',
      'hispanicOrLatinoEthnicity',
      'countryOfBirthCode',
      'stateOfBirthAbbreviation',
      'cityOfBirth',
      'publicSchoolResidenceStatus',
    ],
    requiredHeaders: [],
  },
  enrollments: {
    key: 'enrollments',
    columns: {
      ...common,
      classSourcedId: { kind: 'ref', target: 'classes', required: true },
      schoolSourcedId: { kind: 'ref', target: 'orgs', required: true },
      userSourcedId: { kind: 'ref', target: 'users', required: true },
      role: { kind: 'enum', values: ENROLLMENT_ROLES, required: true },
      primary: { kind: 'bool' },
      beginDate: { kind: 'date' },
      endDate: { kind: 'date' },
    },
    ignored: [],
    requiredHeaders: ['classSourcedId', 'schoolSourcedId', 'userSourcedId', 'role'],
  },
  categories: {
    key: 'categories',
    columns: {
      ...common,
      title: { kind: 'text', required: true, max: 200 },
    },
    ignored: ['weight'],
    requiredHeaders: ['title'],
  },
  lineItems: {
    key: 'lineItems',
    columns: {
      ...common,
      title: { kind: 'text', required: true, max: 200 },
      assignDate: { kind: 'datetime' },
      dueDate: { kind: 'datetime', required: true },
      classSourcedId: { kind: 'ref', target: 'classes', required: true },
      categorySourcedId: { kind: 'ref', target: 'categories', required: true },
      resultValueMax: { kind: 'number', required: true, min: 0.01 },
    },
    ignored: [
      'description',
      'gradingPeriodSourcedId',
      'academicSessionSourcedId',
      'schoolSourcedId',
      'resultValueMin',
      'scoreScaleSourcedId',
      'learningObjectiveSet',
    ],
    requiredHeaders: ['title', 'dueDate', 'classSourcedId', 'categorySourcedId', 'resultValueMax'],
  },
  results: {
    key: 'results',
    columns: {
      ...common,
      lineItemSourcedId: { kind: 'ref', target: 'lineItems', required: true },
      studentSourcedId: { kind: 'ref', target: 'users', required: true },
      scoreStatus: { kind: 'enum', values: SCORE_STATUSES, required: true },
      score: { kind: 'number', min: 0 },
      scoreDate: { kind: 'date' },
      comment: { kind: 'text', max: 2000 },
    },
    ignored: [
      'classSourcedId',
      'scoreScaleSourcedId',
      'textScore',
      'learningObjectiveSet',
      'inProgress',
      'incomplete',
      'late',
      'missing',
    ],
    requiredHeaders: ['lineItemSourcedId', 'studentSourcedId', 'scoreStatus'],
  },
};

/** The longest value any column takes (a sourcedId included); longer ones are reported. */
export const MAX_ID_LENGTH = 255;
export const DEFAULT_TEXT_MAX = 1000;

/** The assignment category a OneRoster category title stands for (`classwork` otherwise). */
export function categoryKeyOf(title: string, categories: readonly string[]): string {
  const t = title.trim().toLowerCase();
  const exact = categories.find((c) => c === t);
  if (exact) return exact;
  const contained = categories.find((c) => t.includes(c));
  return contained ?? 'classwork';
}

/** The sourcedId Homeroom gives the category of an assignment category key. */
export const categorySourcedId = (key: string) => `homeroom-category-${key}`;
