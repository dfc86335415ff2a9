import { hashPassword } from '../passwords.js';
import { withTenant } from '../tenancy.js';
import { DEFAULT_GRADING_SCALE, PERMISSIONS, SYSTEM_ROLE_DEFINITIONS } from '../tenant-defaults.js';
import * as tenantSchema from '../schema/tenant.js';
import type { ProvisionedBranch } from '../branches/provisioner.js';
import type { OpenDb } from './deps.js';

/**
 * Writes a new tenant's first rows on its branch: the defaults db/tenant-defaults.ts
 * declares (permissions, system roles, grading scale), the funnel stages, the root org
 * unit and the first admin.
 */

export interface SeedInput {
  tenantId: string;
  name: string;
  slug: string;
  adminEmail: string;
  /** Omitted: the admin is `invited`, without a password. */
  adminPassword?: string;
  adminName: string;
  platformAdmin: boolean;
  requestId?: string | undefined;
}

/** Seeds a new tenant's defaults on its branch as the app role, in one transaction. */
export async function seedTenantDefaults(
  open: OpenDb,
  branch: ProvisionedBranch,
  input: SeedInput,
) {
  const t = tenantSchema;
  const { db, close } = await open(branch.appUrl, tenantSchema, 1);
  try {
    return await withTenant(db, input.tenantId, async (tx) => {
      const tenantId = input.tenantId;
      const [root] = await tx
        .insert(t.orgUnits)
        .values({ tenantId, kind: 'network', name: input.name, code: input.slug.toUpperCase() })
        .returning({ id: t.orgUnits.id });
      const perms = await tx
        .insert(t.permissions)
        .values(
          Object.entries(PERMISSIONS).map(([key, description]) => ({ tenantId, key, description })),
        )
        .returning({ id: t.permissions.id, key: t.permissions.key });
      const permId = new Map(perms.map((p) => [p.key, p.id]));
      const roleRows = await tx
        .insert(t.roles)
        .values(
          Object.entries(SYSTEM_ROLE_DEFINITIONS).map(([key, def]) => ({
            tenantId,
            key,
            name: def.name,
            description: def.description,
            isSystem: true,
          })),
        )
        .returning({ id: t.roles.id, key: t.roles.key });
      await tx.insert(t.rolePermissions).values(
        roleRows.flatMap((r) =>
          SYSTEM_ROLE_DEFINITIONS[r.key as keyof typeof SYSTEM_ROLE_DEFINITIONS].permissions.map(
            (p) => ({
              tenantId,
              roleId: r.id,
              permissionId: permId.get(p)!,
            }),
          ),
        ),
      );
      await tx.insert(t.funnelStages).values([
        ...t.DEFAULT_FUNNEL_STAGES.map((s, position) => ({
          tenantId,
          key: s.key,
          name: s.name,
          position,
        })),
        { tenantId, key: t.LOST_STAGE, name: 'Lost', position: 100, isTerminal: true },
      ]);
      await tx
        .insert(t.gradingScales)
        .values({ tenantId, name: 'Standard A–F', isDefault: true, bands: DEFAULT_GRADING_SCALE });
      const [first, ...rest] = input.adminName.trim().split(/\s+/);
      const [admin] = await tx
        .insert(t.users)
        .values({
          tenantId,
          email: input.adminEmail,
          passwordHash: input.adminPassword ? await hashPassword(input.adminPassword) : null,
          firstName: first ?? 'Network',
          lastName: rest.join(' ') || 'Administrator',
          status: input.adminPassword ? 'active' : 'invited',
        })
        .returning({ id: t.users.id });
      const granted = input.platformAdmin ? ['network_admin', 'platform_admin'] : ['network_admin'];
      await tx.insert(t.userRoles).values(
        granted.map((key) => ({
          tenantId,
          userId: admin!.id,
          roleId: roleRows.find((r) => r.key === key)!.id,
        })),
      );
      await tx.insert(t.auditLog).values({
        tenantId,
        actorKind: 'platform',
        action: 'tenant.provisioned',
        entityType: 'tenant',
        entityId: tenantId,
        after: {
          admin_user_id: admin!.id,
          root_org_unit_id: root!.id,
          admin_roles: granted,
        },
        requestId: input.requestId ?? null,
      });
      return { rootOrgUnitId: root!.id, adminUserId: admin!.id };
    });
  } finally {
    await close();
  }
}
