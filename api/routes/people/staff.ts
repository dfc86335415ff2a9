import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { EMPLOYMENT_STATUSES, EMPLOYMENT_TYPES } from '../../../db/schema/people.js';
import type { AppEnv } from '../../app-env.js';
import { withinReach } from '../../auth/scope.js';
import { registerResource, type ResourceDef } from '../../resources/crud.js';
import { scoped } from '../../resources/scopes.js';

const Staff = z
  .object({
    id: z.uuid(),
    user_id: z.uuid().nullable(),
    employee_number: z.string(),
    first_name: z.string(),
    last_name: z.string(),
    email: z.string().nullable(),
    school_id: z.uuid().nullable(),
    title: z.string().nullable(),
    employment_status: z.enum(EMPLOYMENT_STATUSES),
    employment_type: z.enum(EMPLOYMENT_TYPES),
    subjects: z.array(z.string()),
    hire_date: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Staff');

const StaffCreate = z
  .object({
    employee_number: z.string().trim().min(1).max(64),
    first_name: z.string().trim().min(1).max(100),
    last_name: z.string().trim().min(1).max(100),
    email: z.email().max(254).nullable().optional(),
    school_id: z.uuid().nullable().optional(),
    title: z.string().trim().max(100).nullable().optional(),
    employment_status: z.enum(EMPLOYMENT_STATUSES).optional(),
    employment_type: z.enum(EMPLOYMENT_TYPES).optional(),
    subjects: z.array(z.string().trim().min(1).max(60)).max(30).optional(),
    hire_date: z.iso.date().nullable().optional(),
    user_id: z.uuid().nullable().optional(),
  })
  .openapi('StaffCreate');

const StaffUpdate = StaffCreate.partial().openapi('StaffUpdate');

const StaffFilters = z.object({
  school_id: z.uuid().optional(),
  employment_status: z.enum(EMPLOYMENT_STATUSES).optional(),
});

const permissions = { read: 'staff.read', write: 'staff.write' };

export const staffResource: ResourceDef<
  typeof StaffCreate,
  typeof StaffUpdate,
  typeof StaffFilters
> = {
  entity: 'staff',
  path: '/v1/staff',
  tag: 'Staff',
  plural: 'staff records',
  table: t.staff,
  permissions,
  schemas: { out: Staff, create: StaffCreate, update: StaffUpdate, filters: StaffFilters },
  // Staff of a school are its leaders' to see; staff without a school need tenant-wide reach.
  scope: scoped(permissions, { org: (reach) => withinReach(reach, t.staff.schoolId) }),
  order: { column: t.staff.lastName, direction: 'asc' },
  filters: (q) => [
    q.school_id ? eq(t.staff.schoolId, q.school_id) : undefined,
    q.employment_status ? eq(t.staff.employmentStatus, q.employment_status) : undefined,
  ],
  descriptions: { create: 'The employee number is unique in the tenant (409).' },
};

export function registerStaff(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, staffResource);
}
