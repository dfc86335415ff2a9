import type { Context } from 'hono';
import * as t from '../db/schema/tenant.js';
import type { AppEnv } from './app-env.js';

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
}

/**
 * Records a mutation in the tenant's append-only audit log, inside the request's
 * transaction: the entry commits with the change or not at all.
 */
export async function audit(c: Context<AppEnv>, entry: AuditEntry): Promise<void> {
  const principal = c.get('principal') as AppEnv['Variables']['principal'] | undefined;
  await c
    .get('tx')
    .insert(t.auditLog)
    .values({
      tenantId: c.get('tenant').id,
      actorUserId: principal?.userId ?? null,
      actorKind: principal ? 'user' : 'public',
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId ?? null,
      before: entry.before ?? null,
      after: entry.after ?? null,
      requestId: c.get('requestId'),
      ip: clientInet(c),
      userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null,
    });
}

/**
 * The client's address as the `inet` columns of the logs take it; null when the runtime
 * reports something that is not an address (e.g. `unknown`).
 */
export function clientInet(c: Context<AppEnv>): string | null {
  const ip = c.get('services').clientIp(c);
  return /^[0-9.]+$/.test(ip) || /^[0-9a-f:]+$/i.test(ip) ? ip : null;
}
