import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { authenticate } from '../../auth/middleware.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { Me } from './schemas.js';

const route = createRoute({
  operationId: 'getMe',
  method: 'get',
  path: '/v1/me',
  tags: ['Auth'],
  summary: 'The signed-in user, their tenant, roles and permissions',
  middleware: [authenticate()],
  responses: {
    200: { description: 'The caller', content: { 'application/json': { schema: Me } } },
    ...problemResponses(401, 403, 404),
  },
});

export function registerMe(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const tx = c.get('tx');
    const principal = c.get('principal');
    const tenant = c.get('tenant');
    const [user] = await tx
      .select({
        id: t.users.id,
        email: t.users.email,
        firstName: t.users.firstName,
        lastName: t.users.lastName,
        status: t.users.status,
        lastLoginAt: t.users.lastLoginAt,
      })
      .from(t.users)
      .where(eq(t.users.id, principal.userId));
    // authenticate() has just loaded this user; gone now means a concurrent delete.
    if (!user) throw new ApiError('unauthenticated', 'The token is invalid, expired or revoked.');
    const grants = await tx
      .select({
        key: t.roles.key,
        name: t.roles.name,
        orgUnitId: t.orgUnits.id,
        orgUnitName: t.orgUnits.name,
        orgUnitKind: t.orgUnits.kind,
      })
      .from(t.userRoles)
      .innerJoin(
        t.roles,
        and(eq(t.roles.tenantId, t.userRoles.tenantId), eq(t.roles.id, t.userRoles.roleId)),
      )
      .leftJoin(
        t.orgUnits,
        and(
          eq(t.orgUnits.tenantId, t.userRoles.tenantId),
          eq(t.orgUnits.id, t.userRoles.orgUnitId),
        ),
      )
      .where(
        and(
          eq(t.userRoles.userId, principal.userId),
          isNull(t.userRoles.deletedAt),
          isNull(t.roles.deletedAt),
        ),
      )
      .orderBy(asc(t.roles.key), asc(t.orgUnits.name));
    c.header('cache-control', 'no-store');
    return c.json(
      {
        user: {
          id: user.id,
          email: user.email,
          first_name: user.firstName,
          last_name: user.lastName,
          status: user.status,
          last_login_at: user.lastLoginAt?.toISOString() ?? null,
        },
        tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
        roles: grants.map((g) => ({
          key: g.key,
          name: g.name,
          org_unit:
            g.orgUnitId && g.orgUnitName && g.orgUnitKind
              ? { id: g.orgUnitId, name: g.orgUnitName, kind: g.orgUnitKind }
              : null,
        })),
        permissions: [...principal.permissions].sort(),
      },
      200,
    );
  });
}
