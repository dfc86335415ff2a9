import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { USER_STATUSES } from '../../../db/schema/people.js';
import { hashPassword, passwordWeakness } from '../../../db/passwords.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { orgReach, rowScope, type OrgReach } from '../../auth/scope.js';
import { passwordSchemeOf } from '../../auth/credentials.js';
import { ApiError } from '../../problems.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
  type Row,
} from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { problemResponses } from '../openapi.js';

const Grant = z
  .object({ id: z.uuid(), role: z.string(), role_id: z.uuid(), org_unit_id: z.uuid().nullable() })
  .openapi('RoleGrant');

const User = z
  .object({
    id: z.uuid(),
    email: z.string(),
    first_name: z.string(),
    last_name: z.string(),
    phone: z.string().nullable(),
    status: z.enum(USER_STATUSES),
    last_login_at: z.string().nullable(),
    roles: z.array(Grant),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('User');

const password = z.string().min(12).max(200);

const UserCreate = z
  .object({
    email: z.email().max(254),
    first_name: z.string().trim().min(1).max(100),
    last_name: z.string().trim().min(1).max(100),
    phone: z.string().trim().max(40).nullable().optional(),
    password: password
      .optional()
      .openapi({ description: 'Omit to create the user as `invited`, without a password.' }),
  })
  .openapi('UserCreate');

const UserUpdate = z
  .object({
    email: z.email().max(254),
    first_name: z.string().trim().min(1).max(100),
    last_name: z.string().trim().min(1).max(100),
    phone: z.string().trim().max(40).nullable(),
    status: z.enum(USER_STATUSES),
    password,
  })
  .partial()
  .openapi('UserUpdate');

const UserFilters = z.object({
  status: z.enum(USER_STATUSES).optional(),
  email: z.string().max(254).optional().openapi({ description: 'Exact email, any case.' }),
});

const GrantCreate = z
  .object({
    role: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .max(64)
      .openapi({ description: 'Role key.' }),
    org_unit_id: z.uuid().nullable().openapi({ description: 'Scope; null = the whole tenant.' }),
  })
  .openapi('RoleGrantCreate');

const permissions = { read: 'users.read', write: 'users.write' };

const inList = (ids: string[]) =>
  ids.length
    ? sql`(${sql.join(
        ids.map((id) => sql`${id}::uuid`),
        sql`, `,
      )})`
    : sql`(null::uuid)`;

/**
 * A school's leaders see the users who hold a role within their reach, and users who hold
 * no role yet (just invited, so they can be given one).
 */
const userRules = {
  org: (reach: OrgReach) =>
    reach.all
      ? undefined
      : sql`(${t.users.id} in (select ur.user_id from user_roles ur where ur.deleted_at is null
              and ur.org_unit_id in ${inList(reach.orgUnitIds)})
          or not exists (select 1 from user_roles ur where ur.deleted_at is null
              and ur.user_id = ${t.users.id}))`,
};
const scope = (c: Ctx, mode: 'read' | 'write') =>
  rowScope(c.get('tx'), c.get('principal'), permissions[mode], userRules);

async function hashed(c: Ctx, pw: string, context: string[]): Promise<string> {
  const weak = passwordWeakness(pw, context);
  if (weak)
    throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
      invalidParams: [{ name: 'json.password', reason: weak }],
    });
  return hashPassword(pw, passwordSchemeOf(c));
}

export const userResource: ResourceDef<typeof UserCreate, typeof UserUpdate, typeof UserFilters> = {
  entity: 'user',
  path: '/v1/users',
  tag: 'Users',
  plural: 'users',
  table: t.users,
  permissions,
  schemas: { out: User, create: UserCreate, update: UserUpdate, filters: UserFilters },
  hidden: ['passwordHash', 'failedLoginCount', 'lockedUntil'],
  scope,
  order: { column: t.users.email, direction: 'asc' },
  filters: (q) => [
    q.status ? eq(t.users.status, q.status) : undefined,
    q.email ? sql`lower(${t.users.email}) = lower(${q.email})` : undefined,
  ],
  prepareCreate: async (c, input) => ({
    email: input.email.toLowerCase(),
    firstName: input.first_name,
    lastName: input.last_name,
    phone: input.phone ?? null,
    passwordHash: input.password
      ? await hashed(c, input.password, [input.email, input.first_name, input.last_name])
      : null,
    status: input.password ? 'active' : 'invited',
  }),
  prepareUpdate: async (c, input, before) => {
    const values: Row = {};
    if (input.email !== undefined) values.email = input.email.toLowerCase();
    if (input.first_name !== undefined) values.firstName = input.first_name;
    if (input.last_name !== undefined) values.lastName = input.last_name;
    if (input.phone !== undefined) values.phone = input.phone;
    if (input.status !== undefined) values.status = input.status;
    if (input.password !== undefined) {
      values.passwordHash = await hashed(c, input.password, [String(before.email)]);
      if (before.status === 'invited' && input.status === undefined) values.status = 'active';
    }
    if (values.status === 'active' && !values.passwordHash && !before.passwordHash)
      throw new ApiError('unprocessable', 'Set a password before activating an invited user.');
    return values;
  },
  beforeDelete: async (c, row) => {
    if (row.id === c.get('principal').userId)
      throw new ApiError('conflict', 'You cannot delete yourself.');
    await c
      .get('tx')
      .update(t.refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(t.refreshTokens.userId, String(row.id)), isNull(t.refreshTokens.revokedAt)));
  },
  decorate: async (c, rows) => {
    if (rows.length === 0) return rows;
    const grants = await grantsOf(
      c,
      rows.map((r) => String(r.id)),
    );
    return rows.map((r) => ({
      ...r,
      roles: grants.filter((g) => g.userId === r.id).map(({ userId: _, ...g }) => g),
    }));
  },
  descriptions: {
    create:
      'With a password the user is `active`; without one, `invited`. Password hashes are never returned.',
  },
};

async function grantsOf(c: Ctx, userIds: string[]) {
  return c
    .get('tx')
    .select({
      userId: t.userRoles.userId,
      id: t.userRoles.id,
      role: t.roles.key,
      role_id: t.roles.id,
      org_unit_id: t.userRoles.orgUnitId,
    })
    .from(t.userRoles)
    .innerJoin(
      t.roles,
      and(eq(t.roles.tenantId, t.userRoles.tenantId), eq(t.roles.id, t.userRoles.roleId)),
    )
    .where(and(inArray(t.userRoles.userId, userIds), isNull(t.userRoles.deletedAt)))
    .orderBy(t.roles.key, t.userRoles.id);
}

/**
 * Whether the caller may grant or remove `role` at `orgUnitId`: within their reach
 * (tenant-wide grants need tenant-wide reach), never platform_admin, network_admin only
 * with tenant-wide reach, and never a role with a permission the caller lacks (no
 * escalation through a custom role).
 */
export async function checkGrant(
  c: Ctx,
  roleKey: string,
  roleId: string,
  orgUnitId: string | null,
) {
  const principal = c.get('principal');
  const reach = await orgReach(c.get('tx'), principal, permissions.write);
  const refuse = (why: string) => {
    throw new ApiError('forbidden', why);
  };
  if (roleKey === 'platform_admin') refuse('Platform admins are appointed by the platform.');
  if (roleKey === 'network_admin' && !reach.all)
    refuse('Only tenant-wide admins grant network_admin.');
  if (orgUnitId === null ? !reach.all : !reach.all && !reach.orgUnitIds.includes(orgUnitId))
    refuse('The org unit is outside your reach.');
  const held = await c
    .get('tx')
    .select({ key: t.permissions.key })
    .from(t.rolePermissions)
    .innerJoin(
      t.permissions,
      and(
        eq(t.permissions.tenantId, t.rolePermissions.tenantId),
        eq(t.permissions.id, t.rolePermissions.permissionId),
      ),
    )
    .where(eq(t.rolePermissions.roleId, roleId));
  const beyond = held.filter((p) => !principal.permissions.has(p.key));
  if (beyond.length) refuse('The role carries permissions you do not hold.');
}

const UserParam = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'User id.' }),
});
const GrantParam = UserParam.extend({
  grant_id: z.uuid().openapi({ param: { name: 'grant_id', in: 'path' }, description: 'Grant id.' }),
});

export function registerUsers(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, userResource);
  const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

  app.openapi(
    createRoute({
      operationId: 'grantUserRole',
      method: 'post',
      path: '/v1/users/{id}/roles',
      tags: ['Users'],
      summary: 'Grant a role, scoped to an org unit',
      description:
        'A principal may grant only within their school, and never network_admin or platform_admin.',
      middleware: guarded(permissions.write),
      request: { params: UserParam, body: { content: json(GrantCreate), required: true } },
      responses: {
        201: { description: 'The grant', content: json(Grant) },
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      await loadScoped(c, userResource, id, 'write');
      const [role] = await c
        .get('tx')
        .select({ id: t.roles.id, key: t.roles.key })
        .from(t.roles)
        .where(and(eq(t.roles.key, body.role), isNull(t.roles.deletedAt)));
      if (!role)
        throw new ApiError('unprocessable', 'No such role.', {
          invalidParams: [{ name: 'json.role', reason: 'no such role' }],
        });
      await checkGrant(c, role.key, role.id, body.org_unit_id);
      const [grant] = await mapDbErrors(() =>
        c
          .get('tx')
          .insert(t.userRoles)
          .values({
            tenantId: c.get('tenant').id,
            userId: id,
            roleId: role.id,
            orgUnitId: body.org_unit_id,
          })
          .returning({ id: t.userRoles.id }),
      );
      const out = {
        id: grant!.id,
        role: role.key,
        role_id: role.id,
        org_unit_id: body.org_unit_id,
      };
      await audit(c, { action: 'user_role.create', entityType: 'user', entityId: id, after: out });
      return c.json(out, 201);
    },
  );

  app.openapi(
    createRoute({
      operationId: 'revokeUserRole',
      method: 'delete',
      path: '/v1/users/{id}/roles/{grant_id}',
      tags: ['Users'],
      summary: 'Remove a role grant',
      middleware: guarded(permissions.write),
      request: { params: GrantParam },
      responses: { 204: { description: 'Removed' }, ...problemResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const { id, grant_id } = c.req.valid('param');
      await loadScoped(c, userResource, id, 'write');
      const grant = (await grantsOf(c, [id])).find((g) => g.id === grant_id);
      if (!grant) throw new ApiError('not_found');
      await checkGrant(c, grant.role, grant.role_id, grant.org_unit_id);
      await c
        .get('tx')
        .update(t.userRoles)
        .set({ deletedAt: new Date() })
        .where(eq(t.userRoles.id, grant_id));
      const { userId: _, ...before } = grant;
      await audit(c, { action: 'user_role.delete', entityType: 'user', entityId: id, before });
      return c.body(null, 204);
    },
  );
}
