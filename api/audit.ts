import type { Context } from 'hono';
import { sql } from 'drizzle-orm';
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
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  // Plain SQL rather than the query builder: every mutation of every request runs this.
  await c.get('tx').execute(sql`
    insert into audit_log (tenant_id, actor_user_id, actor_kind, action, entity_type, entity_id,
                           before, after, request_id, ip, user_agent)
    values (${c.get('tenant').id}, ${principal?.userId ?? null}, ${principal ? 'user' : 'public'},
            ${entry.action}, ${entry.entityType}, ${entry.entityId ?? null},
            ${json(entry.before)}::jsonb, ${json(entry.after)}::jsonb, ${c.get('requestId')},
            ${clientInet(c)}::inet, ${c.req.header('user-agent')?.slice(0, 512) ?? null})`);
}

/**
 * The client's address as the `inet` columns of the logs take it; null when the runtime
 * reports something that is not an address (e.g. `unknown`).
 */
export function clientInet(c: Context<AppEnv>): string | null {
  const ip = c.get('services').clientIp(c);
  return /^[0-9.]+$/.test(ip) || /^[0-9a-f:]+$/i.test(ip) ? ip : null;
}
