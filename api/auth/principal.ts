import { and, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../db/schema/tenant.js';
import type { Tx } from '../../db/connection.js';
import type { TenantSchema } from '../../db/schema/types.js';

/** A role a user holds, scoped to an org unit (null = the whole tenant). */
export interface RoleGrant {
  role: string;
  orgUnitId: string | null;
  permissions: string[];
}

/** The authenticated caller of a request. */
export interface Principal {
  userId: string;
  tenantId: string;
  sessionId: string;
  via: 'bearer' | 'cookie';
  grants: RoleGrant[];
  permissions: ReadonlySet<string>;
  roles: ReadonlySet<string>;
}

/**
 * Loads what a token's subject may do now, from the branch (not from the token: a role
 * removed a minute ago must stop working now). Null when the user is gone or disabled,
 * or when the session behind the token has been revoked.
 */
export async function loadPrincipal(
  tx: Tx<TenantSchema>,
  claims: { sub: string; tenant: string; sid: string },
  via: Principal['via'],
): Promise<Principal | null> {
  const [user] = await tx
    .select({ id: t.users.id })
    .from(t.users)
    .where(
      and(eq(t.users.id, claims.sub), eq(t.users.status, 'active'), isNull(t.users.deletedAt)),
    );
  if (!user) return null;
  const [session] = await tx
    .select({ id: t.refreshTokens.id })
    .from(t.refreshTokens)
    .where(
      and(
        eq(t.refreshTokens.familyId, claims.sid),
        eq(t.refreshTokens.userId, claims.sub),
        isNull(t.refreshTokens.revokedAt),
      ),
    )
    .limit(1);
  if (!session) return null;
  const rows = await tx
    .select({
      role: t.roles.key,
      orgUnitId: t.userRoles.orgUnitId,
      permissions: sql<
        string[]
      >`coalesce(array_agg(${t.permissions.key}) filter (where ${t.permissions.key} is not null), '{}')`,
    })
    .from(t.userRoles)
    .innerJoin(
      t.roles,
      and(eq(t.roles.tenantId, t.userRoles.tenantId), eq(t.roles.id, t.userRoles.roleId)),
    )
    .leftJoin(
      t.rolePermissions,
      and(
        eq(t.rolePermissions.tenantId, t.roles.tenantId),
        eq(t.rolePermissions.roleId, t.roles.id),
      ),
    )
    .leftJoin(
      t.permissions,
      and(
        eq(t.permissions.tenantId, t.rolePermissions.tenantId),
        eq(t.permissions.id, t.rolePermissions.permissionId),
      ),
    )
    .where(
      and(
        eq(t.userRoles.userId, claims.sub),
        isNull(t.userRoles.deletedAt),
        isNull(t.roles.deletedAt),
      ),
    )
    .groupBy(t.roles.key, t.userRoles.orgUnitId);
  return {
    userId: claims.sub,
    tenantId: claims.tenant,
    sessionId: claims.sid,
    via,
    grants: rows,
    permissions: new Set(rows.flatMap((r) => r.permissions)),
    roles: new Set(rows.map((r) => r.role)),
  };
}
