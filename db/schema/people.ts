import { sql } from 'drizzle-orm';
import {
  boolean,
  date,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  createdAt,
  oneOf,
  rule,
  tenantFk,
  tenantIndex,
  tenantKey,
  tenantPk,
  timestamps,
  sourced,
  sourcedKey,
} from './columns.js';
import { orgUnits } from './org.js';

export const USER_STATUSES = ['invited', 'active', 'disabled'] as const;
export const SYSTEM_ROLES = [
  'platform_admin',
  'network_admin',
  'principal',
  'office_admin',
  'teacher',
  'coach',
  'parent',
  'student',
] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];
export const STUDENT_STATUSES = [
  'applicant',
  'active',
  'inactive',
  'graduated',
  'transferred',
  'withdrawn',
] as const;
export const EMPLOYMENT_STATUSES = ['active', 'on_leave', 'inactive', 'terminated'] as const;
export const EMPLOYMENT_TYPES = ['full_time', 'part_time', 'substitute', 'contract'] as const;

/**
 * Everyone who signs in. `password_hash` is self-describing (scheme, parameters, salt,
 * hash), so a changed cost can be detected and the hash upgraded at the next login.
 */
export const users = pgTable(
  'users',
  {
    ...tenantKey,
    ...sourced,
    email: text('email').notNull(),
    passwordHash: text('password_hash'),
    firstName: text('first_name').notNull(),
    lastName: text('last_name').notNull(),
    phone: text('phone'),
    status: text('status').notNull().default('active'),
    failedLoginCount: integer('failed_login_count').notNull().default(0),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    tenantPk('users', t),
    sourcedKey('users', t),
    uniqueIndex('users_email_key')
      .on(t.tenantId, sql`lower(${t.email})`)
      .where(sql`${t.deletedAt} is null`),
    oneOf('users_status_check', t.status, USER_STATUSES),
    rule('users_failed_login_count_check', sql`${t.failedLoginCount} >= 0`),
    rule('users_email_check', sql`position('@' in ${t.email}) > 1`),
  ],
);

/** System roles (seeded per tenant) and tenant-defined custom roles. */
export const roles = pgTable(
  'roles',
  {
    ...tenantKey,
    key: text('key').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    isSystem: boolean('is_system').notNull().default(false),
    ...timestamps,
  },
  (t) => [
    tenantPk('roles', t),
    uniqueIndex('roles_key_key')
      .on(t.tenantId, t.key)
      .where(sql`${t.deletedAt} is null`),
    rule('roles_key_check', sql`${t.key} ~ '^[a-z][a-z0-9_]*$'`),
  ],
);

/** Permission keys such as `students.read`; seeded per tenant so custom roles can use them. */
export const permissions = pgTable(
  'permissions',
  {
    ...tenantKey,
    key: text('key').notNull(),
    description: text('description').notNull(),
    ...createdAt,
  },
  (t) => [
    tenantPk('permissions', t),
    unique('permissions_key_key').on(t.tenantId, t.key),
    rule('permissions_key_check', sql`${t.key} ~ '^[a-z_]+\\.[a-z_]+$'`),
  ],
);

export const rolePermissions = pgTable(
  'role_permissions',
  {
    ...tenantKey,
    roleId: uuid('role_id').notNull(),
    permissionId: uuid('permission_id').notNull(),
    ...createdAt,
  },
  (t) => [
    tenantPk('role_permissions', t),
    tenantFk('role_permissions_role_fk', t.tenantId, t.roleId, roles).onDelete('cascade'),
    tenantFk('role_permissions_permission_fk', t.tenantId, t.permissionId, permissions).onDelete(
      'cascade',
    ),
    unique('role_permissions_key').on(t.tenantId, t.roleId, t.permissionId),
  ],
);

/** Stands in for "no org unit" in unique indexes, where NULLs would never collide. */
const NO_ORG_UNIT = sql.raw(`'00000000-0000-0000-0000-000000000000'::uuid`);

/** A role held by a user, scoped to an org unit (null = the whole tenant). */
export const userRoles = pgTable(
  'user_roles',
  {
    ...tenantKey,
    ...sourced,
    userId: uuid('user_id').notNull(),
    roleId: uuid('role_id').notNull(),
    orgUnitId: uuid('org_unit_id'),
    ...timestamps,
  },
  (t) => [
    tenantPk('user_roles', t),
    sourcedKey('user_roles', t),
    tenantFk('user_roles_user_fk', t.tenantId, t.userId, users).onDelete('cascade'),
    tenantFk('user_roles_role_fk', t.tenantId, t.roleId, roles),
    tenantFk('user_roles_org_unit_fk', t.tenantId, t.orgUnitId, orgUnits),
    uniqueIndex('user_roles_key')
      .on(t.tenantId, t.userId, t.roleId, sql`coalesce(${t.orgUnitId}, ${NO_ORG_UNIT})`)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('user_roles_role_idx', t.tenantId, t.roleId),
  ],
);

/** Opaque refresh tokens, stored as SHA-256 hashes; rotation links a family of tokens. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    ...tenantKey,
    userId: uuid('user_id').notNull(),
    familyId: uuid('family_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    userAgent: text('user_agent'),
    ip: text('ip'),
    ...timestamps,
  },
  (t) => [
    tenantPk('refresh_tokens', t),
    tenantFk('refresh_tokens_user_fk', t.tenantId, t.userId, users).onDelete('cascade'),
    unique('refresh_tokens_hash_key').on(t.tenantId, t.tokenHash),
    tenantIndex('refresh_tokens_family_idx', t.tenantId, t.familyId),
  ],
);

export const students = pgTable(
  'students',
  {
    ...tenantKey,
    ...sourced,
    userId: uuid('user_id'),
    studentNumber: text('student_number').notNull(),
    firstName: text('first_name').notNull(),
    middleName: text('middle_name'),
    lastName: text('last_name').notNull(),
    preferredName: text('preferred_name'),
    dateOfBirth: date('date_of_birth'),
    gender: text('gender'),
    gradeLevel: text('grade_level').notNull(),
    schoolId: uuid('school_id').notNull(),
    status: text('status').notNull().default('active'),
    iep: boolean('iep').notNull().default(false),
    section504: boolean('section_504').notNull().default(false),
    ...timestamps,
  },
  (t) => [
    tenantPk('students', t),
    sourcedKey('students', t),
    tenantFk('students_user_fk', t.tenantId, t.userId, users),
    tenantFk('students_school_fk', t.tenantId, t.schoolId, orgUnits),
    uniqueIndex('students_number_key')
      .on(t.tenantId, t.studentNumber)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('students_school_idx', t.tenantId, t.schoolId, t.gradeLevel),
    tenantIndex('students_user_idx', t.tenantId, t.userId),
    oneOf('students_status_check', t.status, STUDENT_STATUSES),
  ],
);

export const guardians = pgTable(
  'guardians',
  {
    ...tenantKey,
    ...sourced,
    userId: uuid('user_id'),
    firstName: text('first_name').notNull(),
    lastName: text('last_name').notNull(),
    email: text('email'),
    phone: text('phone'),
    address: jsonb('address'),
    ...timestamps,
  },
  (t) => [
    tenantPk('guardians', t),
    sourcedKey('guardians', t),
    tenantFk('guardians_user_fk', t.tenantId, t.userId, users),
    tenantIndex('guardians_user_idx', t.tenantId, t.userId),
    tenantIndex('guardians_email_idx', t.tenantId, sql`lower(${t.email})`),
  ],
);

export const studentGuardians = pgTable(
  'student_guardians',
  {
    ...tenantKey,
    studentId: uuid('student_id').notNull(),
    guardianId: uuid('guardian_id').notNull(),
    relationship: text('relationship').notNull(),
    isPrimary: boolean('is_primary').notNull().default(false),
    canPickup: boolean('can_pickup').notNull().default(true),
    livesWith: boolean('lives_with').notNull().default(true),
    ...timestamps,
  },
  (t) => [
    tenantPk('student_guardians', t),
    tenantFk('student_guardians_student_fk', t.tenantId, t.studentId, students).onDelete('cascade'),
    tenantFk('student_guardians_guardian_fk', t.tenantId, t.guardianId, guardians).onDelete(
      'cascade',
    ),
    uniqueIndex('student_guardians_key')
      .on(t.tenantId, t.studentId, t.guardianId)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('student_guardians_guardian_idx', t.tenantId, t.guardianId),
    oneOf('student_guardians_relationship_check', t.relationship, [
      'mother',
      'father',
      'parent',
      'stepparent',
      'grandparent',
      'guardian',
      'foster_parent',
      'other',
    ]),
  ],
);

export const staff = pgTable(
  'staff',
  {
    ...tenantKey,
    ...sourced,
    userId: uuid('user_id'),
    employeeNumber: text('employee_number').notNull(),
    firstName: text('first_name').notNull(),
    lastName: text('last_name').notNull(),
    email: text('email'),
    schoolId: uuid('school_id'),
    title: text('title'),
    employmentStatus: text('employment_status').notNull().default('active'),
    employmentType: text('employment_type').notNull().default('full_time'),
    subjects: text('subjects')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    hireDate: date('hire_date'),
    ...timestamps,
  },
  (t) => [
    tenantPk('staff', t),
    sourcedKey('staff', t),
    tenantFk('staff_user_fk', t.tenantId, t.userId, users),
    tenantFk('staff_school_fk', t.tenantId, t.schoolId, orgUnits),
    uniqueIndex('staff_employee_number_key')
      .on(t.tenantId, t.employeeNumber)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('staff_school_idx', t.tenantId, t.schoolId),
    tenantIndex('staff_user_idx', t.tenantId, t.userId),
    oneOf('staff_employment_status_check', t.employmentStatus, EMPLOYMENT_STATUSES),
    oneOf('staff_employment_type_check', t.employmentType, EMPLOYMENT_TYPES),
  ],
);
