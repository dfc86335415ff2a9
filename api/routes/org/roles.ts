import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { ApiError } from '../../problems.js';
import { registerResource, type Ctx, type ResourceDef, type Row } from '../../resources/crud.js';

const Role = z
  .object({
    id: z.uuid(),
    key: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    is_system: z.boolean(),
    permissions: z.array(z.string()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Role');

const permissionKeys = z.array(z.string().regex(/^[a-z_]+\.[a-z_]+$/)).max(200);

const RoleCreate = z
  .object({
    key: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .max(64),
    name: z.string().trim().min(1).max(100),
    description: z.string().trim().max(500).nullable().optional(),
    permissions: permissionKeys,
  })
  .openapi('RoleCreate');

const RoleUpdate = RoleCreate.omit({ key: true }).partial().openapi('RoleUpdate');

const permissions = { read: 'roles.read', write: 'roles.write' };

/** Permission ids for keys; unknown keys → 422 naming them. */
async function permissionIds(c: Ctx, keys: string[]): Promise<string[]> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  const rows = await c
    .get('tx')
    .select({ id: t.permissions.id, key: t.permissions.key })
    .from(t.permissions)
    .where(inArray(t.permissions.key, unique));
  const unknown = unique.filter((k) => !rows.some((r) => r.key === k));
  if (unknown.length)
    throw new ApiError('unprocessable', `Unknown permissions: ${unknown.join(', ')}.`, {
      invalidParams: unknown.map((k) => ({ name: 'json.permissions', reason: `unknown: ${k}` })),
    });
  return rows.map((r) => r.id);
}

/** Replaces a role's permission set. */
async function setPermissions(c: Ctx, roleId: string, keys: string[]): Promise<void> {
  const ids = await permissionIds(c, keys);
  const tx = c.get('tx');
  await tx.delete(t.rolePermissions).where(eq(t.rolePermissions.roleId, roleId));
  if (ids.length)
    await tx
      .insert(t.rolePermissions)
      .values(ids.map((permissionId) => ({ tenantId: c.get('tenant').id, roleId, permissionId })));
}

export const roleResource: ResourceDef<typeof RoleCreate, typeof RoleUpdate> = {
  entity: 'role',
  path: '/v1/roles',
  tag: 'Roles',
  plural: 'roles',
  table: t.roles,
  permissions,
  schemas: { out: Role, create: RoleCreate, update: RoleUpdate },
  // Roles are the tenant's definitions, not anyone's records: no relationship scope.
  scope: () => Promise.resolve(undefined),
  order: { column: t.roles.key, direction: 'asc' },
  prepareCreate: async (c, input) => {
    return {
      key: input.key,
      name: input.name,
      description: input.description ?? null,
      isSystem: false,
    };
  },
  afterCreate: (c, row, input) => setPermissions(c, String(row.id), input.permissions),
  prepareUpdate: async (c, input, before) => {
    if (before.isSystem) throw new ApiError('conflict', 'System roles cannot be changed.');
    if (input.permissions) await setPermissions(c, String(before.id), input.permissions);
    const values: Row = {};
    if (input.name !== undefined) values.name = input.name;
    if (input.description !== undefined) values.description = input.description;
    // Touch the row so its version moves even when only the permission set changed.
    if (input.permissions) values.updatedAt = new Date();
    return values;
  },
  beforeDelete: async (c, row) => {
    if (row.isSystem) throw new ApiError('conflict', 'System roles cannot be deleted.');
    const [used] = await c
      .get('tx')
      .select({ id: t.userRoles.id })
      .from(t.userRoles)
      .where(and(eq(t.userRoles.roleId, String(row.id)), isNull(t.userRoles.deletedAt)))
      .limit(1);
    if (used)
      throw new ApiError('conflict', 'The role is granted to users; remove those grants first.');
  },
  decorate: async (c, rows) => {
    const tx = c.get('tx');
    if (rows.length === 0) return rows;
    const grants = await tx
      .select({ roleId: t.rolePermissions.roleId, key: t.permissions.key })
      .from(t.rolePermissions)
      .innerJoin(
        t.permissions,
        and(
          eq(t.permissions.tenantId, t.rolePermissions.tenantId),
          eq(t.permissions.id, t.rolePermissions.permissionId),
        ),
      )
      .where(
        inArray(
          t.rolePermissions.roleId,
          rows.map((r) => String(r.id)),
        ),
      );
    return rows.map((r) => ({
      ...r,
      permissions: grants
        .filter((g) => g.roleId === r.id)
        .map((g) => g.key)
        .sort(),
    }));
  },
  descriptions: {
    create: 'A custom role with a set of the tenant’s permissions (unknown keys → 422).',
    update: 'Custom roles only; `permissions` replaces the set.',
    delete: 'Custom roles that no user holds.',
  },
};

export function registerRoles(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, roleResource);
}
