import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { isTimeZone } from '../../../db/dates.js';
import { and, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ORG_UNIT_KINDS } from '../../../db/schema/org.js';
import { rowsOf } from '../../../db/connection.js';
import type { AppEnv } from '../../app-env.js';
import { rowScope, withinReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { loadScoped, registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';

const CHILD_KINDS = ORG_UNIT_KINDS.filter((k) => k !== 'network') as [string, ...string[]];

const timezone = z.string().max(64).refine(isTimeZone, 'not an IANA time zone');

const OrgUnit = z
  .object({
    id: z.uuid(),
    parent_id: z.uuid().nullable(),
    kind: z.enum(ORG_UNIT_KINDS),
    name: z.string(),
    code: z.string(),
    timezone: z.string().nullable(),
    grade_levels: z.array(z.string()),
    enrollment_open: z.boolean(),
    status: z.enum(['active', 'inactive', 'closed']),
    address: z.record(z.string(), z.string()).nullable(),
    phone: z.string().nullable(),
    website: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('OrgUnit');

const OrgUnitCreate = z
  .object({
    parent_id: z.uuid(),
    kind: z.enum(CHILD_KINDS),
    name: z.string().trim().min(1).max(200),
    code: z.string().trim().min(1).max(64),
    timezone: timezone.nullable().optional(),
    grade_levels: z.array(z.string().trim().min(1).max(16)).max(20).optional(),
    enrollment_open: z.boolean().optional(),
    status: z.enum(['active', 'inactive', 'closed']).optional(),
    address: z.record(z.string().max(40), z.string().max(200)).nullable().optional(),
    phone: z.string().trim().max(40).nullable().optional(),
    website: z.url().max(300).nullable().optional(),
  })
  .openapi('OrgUnitCreate');

const OrgUnitUpdate = OrgUnitCreate.partial().openapi('OrgUnitUpdate');

const OrgUnitFilters = z.object({
  kind: z.enum(ORG_UNIT_KINDS).optional(),
  parent_id: z.uuid().optional(),
});

const permissions = { read: 'org_units.read', write: 'org_units.write' };

/** Everyone who may read org units sees the whole (non-personal) hierarchy; writes stay in reach. */
const scope = (c: Ctx, mode: 'read' | 'write') =>
  mode === 'read'
    ? Promise.resolve(undefined)
    : rowScope(c.get('tx'), c.get('principal'), permissions.write, {
        org: (reach) => withinReach(reach, t.orgUnits.id),
      });

/** The new parent must exist and be within the caller's write reach (422 otherwise). */
async function checkParent(c: Ctx, parentId: string, self?: string): Promise<void> {
  await loadScoped(c, { table: t.orgUnits, scope }, parentId, 'write').catch(() => {
    throw new ApiError('unprocessable', 'No such parent org unit within your reach.', {
      invalidParams: [{ name: 'json.parent_id', reason: 'no such org unit within your reach' }],
    });
  });
  if (self) {
    // A unit cannot move under itself or its own descendants.
    const below = rowsOf<{ id: string }>(
      await c.get('tx').execute(sql`
        with recursive d(id) as (select ${self}::uuid union
          select o.id from org_units o join d on o.parent_id = d.id)
        select id::text from d where id = ${parentId}::uuid`),
    );
    if (below.length)
      throw new ApiError('unprocessable', 'An org unit cannot be its own ancestor.', {
        invalidParams: [{ name: 'json.parent_id', reason: 'would make a cycle' }],
      });
  }
}

export const orgUnitResource: ResourceDef<
  typeof OrgUnitCreate,
  typeof OrgUnitUpdate,
  typeof OrgUnitFilters
> = {
  entity: 'org_unit',
  path: '/v1/org-units',
  tag: 'Org units',
  plural: 'org units',
  table: t.orgUnits,
  permissions,
  schemas: { out: OrgUnit, create: OrgUnitCreate, update: OrgUnitUpdate, filters: OrgUnitFilters },
  scope,
  order: { column: t.orgUnits.name, direction: 'asc' },
  filters: (q) => [
    q.kind ? eq(t.orgUnits.kind, q.kind) : undefined,
    q.parent_id ? eq(t.orgUnits.parentId, q.parent_id) : undefined,
  ],
  prepareCreate: async (c, input) => {
    await checkParent(c, input.parent_id);
    return jsonToValues(input, t.orgUnits);
  },
  prepareUpdate: async (c, input, before) => {
    if (input.parent_id !== undefined) {
      if (before.parentId === null)
        throw new ApiError('unprocessable', 'The network root has no parent.');
      await checkParent(c, input.parent_id, String(before.id));
    }
    return jsonToValues(input, t.orgUnits);
  },
  beforeDelete: async (c, row) => {
    if (row.parentId === null)
      throw new ApiError('conflict', 'The network root cannot be deleted.');
    const [child] = await c
      .get('tx')
      .select({ id: t.orgUnits.id })
      .from(t.orgUnits)
      .where(and(eq(t.orgUnits.parentId, String(row.id)), isNull(t.orgUnits.deletedAt)))
      .limit(1);
    if (child) throw new ApiError('conflict', 'Delete or move the child units first.');
  },
  descriptions: {
    list: 'The whole hierarchy (it holds no personal data).',
    update: 'Only units within the caller’s reach (a principal: their school’s subtree).',
  },
};

export function registerOrgUnits(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, orgUnitResource);
}
