import { eq } from 'drizzle-orm';
import * as control from '../schema/control.js';
import type { PlatformDeps } from './deps.js';
import { PlatformError } from './errors.js';

export interface SetStatusInput {
  slug: string;
  status: 'active' | 'suspended';
  actor: string;
  requestId?: string;
}

/** Suspends or reactivates a tenant; `changed` is false when it already had that status. */
export async function setTenantStatus(
  deps: PlatformDeps,
  input: SetStatusInput,
): Promise<{ tenantId: string; changed: boolean }> {
  return deps.control.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(control.tenants)
      .where(eq(control.tenants.slug, input.slug))
      .for('update');
    if (!before) throw new PlatformError('tenant_not_found', `no tenant "${input.slug}"`);
    if (before.status === input.status) return { tenantId: before.id, changed: false };
    await tx
      .update(control.tenants)
      .set({
        status: input.status,
        suspendedAt: input.status === 'suspended' ? new Date() : null,
      })
      .where(eq(control.tenants.id, before.id));
    await tx.insert(control.platformAuditLog).values({
      actor: input.actor,
      action: input.status === 'suspended' ? 'tenant.suspend' : 'tenant.reactivate',
      tenantId: before.id,
      entityType: 'tenant',
      entityId: before.id,
      before: { status: before.status },
      after: { status: input.status },
      requestId: input.requestId ?? null,
    });
    return { tenantId: before.id, changed: true };
  });
}
