import type { Context } from 'hono';
import type { Db } from '../db/connection.js';
import type { PlatformDeps } from '../db/tenants/deps.js';
import type { UsageKind } from '../db/tenants/usage.js';
import type { TenantSchema } from '../db/schema/types.js';
import type { ApiConfig } from './env.js';
import type { ControlPlane } from '../db/control-plane.js';
import type { RateLimiter } from './middleware/rate-limit.js';
import type { RefreshQueue } from './queue.js';
import type { MailQueue } from './mail-queue.js';
import type { Logger } from '../db/log.js';
import type { TokenKeys } from './auth/jwt.js';

export type TenantDb = Db<TenantSchema>;

/**
 * Daily API usage counters (control-plane `api_usage`), kept off the request path: on Node
 * counts accumulate in memory and are flushed every few seconds and on close; on workerd
 * each request's counts are flushed by `dispose`, which runs in `waitUntil`.
 */
export interface UsageRecorder {
  record(tenantId: string, kinds: readonly UsageKind[]): void;
  /** Writes what has accumulated; failures are logged and the counts kept for the next try. */
  flush(): Promise<void>;
}

/**
 * What handlers reach through `c.get('services')`, never through imported singletons.
 * On Node one set lives for the process; on workerd one is built per request (an I/O
 * object may not outlive its request there) and `dispose` runs after the response.
 */
export interface Services {
  config: ApiConfig;
  runtime: 'node' | 'workerd';
  log: Logger;
  control: ControlPlane;
  /** Drizzle over the branch a tenant lives on, connected as the app role. */
  branchDb(branchId: string): Promise<TenantDb>;
  keys: TokenKeys;
  limiter: RateLimiter;
  queue: RefreshQueue;
  /** Delivery jobs for committed outbox rows (BullMQ; the demo's in-process mailer). */
  mail: MailQueue;
  /** Tenant provisioning on the control plane (the Platform API), over this runtime's drivers. */
  platform(): Promise<PlatformDeps>;
  /**
   * Forgets every cached host → tenant answer of this process or isolate, so a platform
   * change (status, domains, a new tenant) takes effect here at once; elsewhere it does
   * within the tenant-cache TTL.
   */
  forgetTenantHosts(): void;
  usage: UsageRecorder;
  /** The client's address, as this runtime and the trust settings define it. */
  clientIp(c: Context): string;
  dispose(): Promise<void>;
}
