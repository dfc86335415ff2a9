import type { Context } from 'hono';
import * as t from '../../db/schema/tenant.js';
import type { AppEnv } from '../app-env.js';
import { clientInet } from '../audit.js';

export type RecordAccess = 'read' | 'list' | 'export' | 'erase';

/**
 * FERPA record-access log (docs/tenancy-and-security.md#audit-and-the-ferpa-access-log): one row
 * per student whose record the caller was shown, written in the request's transaction so a read
 * that fails leaves no trace and a read that answers always does.
 */
export async function logRecordAccess(
  c: Context<AppEnv>,
  studentIds: readonly string[],
  access: RecordAccess,
): Promise<void> {
  const unique = [...new Set(studentIds)];
  if (unique.length === 0) return;
  const ip = clientInet(c);
  const route = `${c.req.method} ${c.req.routePath}`.slice(0, 200);
  await c
    .get('tx')
    .insert(t.recordAccessLog)
    .values(
      unique.map((studentId) => ({
        tenantId: c.get('tenant').id,
        userId: c.get('principal').userId,
        studentId,
        access,
        route,
        requestId: c.get('requestId'),
        ip,
      })),
    );
}
