import { and, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import * as control from './schema/control.js';
import type { ControlDb } from './schema/types.js';
import { decryptSecret } from './secrets.js';

/**
 * The one reader of the control plane, for the API and the workers: tenants by host, id and
 * slug, a tenant's own hostnames, branch connection URIs. The caches are injected: the API
 * keeps them per process on Node and per isolate on workerd (a reader is built per request
 * there, and only module state lives as long as the isolate); the workers per process.
 */

export type { ControlDb };

/** What the workers know about a tenant: its status, zone and branch. */
export interface TenantRecord {
  id: string;
  slug: string;
  status: string;
  timezone: string;
  branchId: string;
}

const recordColumns = {
  id: control.tenants.id,
  slug: control.tenants.slug,
  status: control.tenants.status,
  timezone: control.tenants.timezone,
  branchId: control.tenants.branchId,
};

/** What the API knows about a tenant while serving one of its requests. */
export interface TenantContext {
  id: string;
  slug: string;
  name: string;
  status: control.TenantStatus;
  branchId: string;
  planKey: string;
  timezone: string;
  locale: string;
  branding: {
    logoUrl?: string;
    primaryColor?: string;
    secondaryColor?: string;
    /** Mail: the sender name (default: the tenant name) and a Reply-To address. */
    mailFromName?: string;
    mailReplyTo?: string;
  };
  features: Record<string, boolean>;
  /** The school a school's own site is bound to (`tenant_domains.org_unit_id`), if any. */
  siteOrgUnitId: string | null;
  /** Whether the request came through one of the tenant's `site` domains. */
  viaSite: boolean;
}

interface Entry<T> {
  value: T;
  expires: number;
}

/** A small TTL cache (per process on Node, per isolate on workerd) with negative entries. */
export class TtlCache<T> {
  private readonly entries = new Map<string, Entry<T | null>>();
  constructor(private readonly maxEntries = 10_000) {}

  get(key: string, now = Date.now()): T | null | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: T | null, ttlMs: number, now = Date.now()): void {
    if (ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: now + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

export interface ControlPlaneOptions {
  open: () => Promise<ControlDb>;
  platformDomain: string;
  secretKey: string;
  hostCache: TtlCache<TenantContext>;
  branchCache: TtlCache<string>;
  ttlMs: number;
  negativeTtlMs: number;
  /** Tenant id → status, re-read after `statusTtlMs` (see resolveHost). */
  statusCache: TtlCache<control.TenantStatus>;
  statusTtlMs: number;
  /** Cache of each tenant's own hostnames (see siteHosts); one per process or isolate by default. */
  siteHostsCache?: TtlCache<readonly string[]>;
  /**
   * Tenant id → lookup in flight or done (see tenant), reused for `ttlMs` hit or miss: the
   * workers' cache, where concurrent jobs of one tenant share one query. Per reader by default.
   */
  tenantCache?: TtlCache<Promise<TenantRecord | null>>;
  /** Whether branchUrl refuses a branch that is not `ready` (the API); default true. */
  readyBranchesOnly?: boolean;
}

/**
 * Default cache for siteHosts. Module-level on purpose: on workerd a ControlPlane is built
 * per request, and only module state lives as long as the isolate.
 */
const sharedSiteHosts = new TtlCache<readonly string[]>();

/** Lower-cases a Host header and strips its port; null when it is not a hostname. */
export function normaliseHost(host: string | undefined | null): string | null {
  if (!host) return null;
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) return null; // IP literals never name a tenant
  h = h.replace(/:\d+$/, '').replace(/\.$/, '');
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(h)
    ? h
    : null;
}

/** The control-plane reader (see the top of this file). */
export class ControlPlane {
  private readonly tenantCache: TtlCache<Promise<TenantRecord | null>>;

  constructor(private readonly options: ControlPlaneOptions) {
    this.tenantCache = options.tenantCache ?? new TtlCache();
  }

  /** A tenant by id, cached for `ttlMs` (a failed lookup is not an answer: never cached). */
  tenant(id: string): Promise<TenantRecord | null> {
    const key = id.toLowerCase();
    const hit = this.tenantCache.get(key);
    if (hit) return hit;
    const value = this.options.open().then(async (db) => {
      const [row] = await db
        .select(recordColumns)
        .from(control.tenants)
        .where(eq(control.tenants.id, key));
      return row ?? null;
    });
    this.tenantCache.set(key, value, this.options.ttlMs);
    value.catch(() => this.tenantCache.delete(key));
    return value;
  }

  /** A tenant by slug (uncached: operator commands). */
  async tenantBySlug(slug: string): Promise<TenantRecord | null> {
    const db = await this.options.open();
    const [row] = await db
      .select(recordColumns)
      .from(control.tenants)
      .where(eq(control.tenants.slug, slug));
    return row ?? null;
  }

  /** Every tenant whose status is `active`, by id (uncached: the sweep runs rarely). */
  async activeTenants(): Promise<TenantRecord[]> {
    const db = await this.options.open();
    return db
      .select(recordColumns)
      .from(control.tenants)
      .where(eq(control.tenants.status, 'active'))
      .orderBy(control.tenants.id);
  }

  /**
   * The tenant a hostname belongs to: an exact `tenant_domains` match, else
   * `<slug>.<PLATFORM_DOMAIN>`, else null. Cancelled tenants resolve to null too.
   */
  async resolveHost(hostname: string): Promise<TenantContext | null> {
    let tenant = this.options.hostCache.get(hostname);
    if (tenant === undefined) {
      tenant = await this.lookup(hostname);
      this.options.hostCache.set(
        hostname,
        tenant,
        tenant ? this.options.ttlMs : this.options.negativeTtlMs,
      );
      if (tenant) this.options.statusCache.set(tenant.id, tenant.status, this.options.statusTtlMs);
      return tenant;
    }
    return tenant && this.withCurrentStatus(tenant);
  }

  /**
   * The cached context with a status at most `statusTtlMs` old. A suspension must reach every
   * process (and isolate) within that bound, while the rest of the context (domains, plan,
   * branding) may be as old as the host TTL. Re-reading only the status is one primary-key
   * lookup per tenant per bound per process, not the host join on every request.
   */
  private async withCurrentStatus(tenant: TenantContext): Promise<TenantContext | null> {
    let status = this.options.statusCache.get(tenant.id);
    if (status == null) {
      const db = await this.options.open();
      const [row] = await db
        .select({ status: control.tenants.status })
        .from(control.tenants)
        .where(eq(control.tenants.id, tenant.id));
      status = (row?.status ?? 'cancelled') as control.TenantStatus;
      this.options.statusCache.set(tenant.id, status, this.options.statusTtlMs);
    }
    if (status === 'cancelled') return null;
    return status === tenant.status ? tenant : { ...tenant, status };
  }

  private async lookup(hostname: string): Promise<TenantContext | null> {
    const db = await this.options.open();
    const columns = {
      id: control.tenants.id,
      slug: control.tenants.slug,
      name: control.tenants.name,
      status: control.tenants.status,
      branchId: control.tenants.branchId,
      planKey: control.tenants.planKey,
      timezone: control.tenants.timezone,
      locale: control.tenants.locale,
      branding: control.tenants.branding,
      features: control.tenants.features,
    };
    const [byDomain] = await db
      .select({
        ...columns,
        orgUnitId: control.tenantDomains.orgUnitId,
        purpose: control.tenantDomains.purpose,
      })
      .from(control.tenantDomains)
      .innerJoin(control.tenants, eq(control.tenants.id, control.tenantDomains.tenantId))
      .where(
        and(
          eq(control.tenantDomains.hostname, hostname),
          isNull(control.tenantDomains.deletedAt),
          // An unproven domain is anyone's claim: it serves nobody until verified.
          isNotNull(control.tenantDomains.verifiedAt),
        ),
      );
    if (byDomain) {
      const { orgUnitId, purpose, ...tenant } = byDomain;
      return this.context(tenant, orgUnitId, purpose === 'site');
    }
    const suffix = `.${this.options.platformDomain}`;
    if (!hostname.endsWith(suffix)) return null;
    const slug = hostname.slice(0, -suffix.length);
    if (!/^[a-z0-9-]+$/.test(slug)) return null;
    const [bySlug] = await db
      .select(columns)
      .from(control.tenants)
      .where(eq(control.tenants.slug, slug));
    return bySlug ? this.context(bySlug, null, false) : null;
  }

  private context(
    row: Omit<TenantContext, 'siteOrgUnitId' | 'viaSite' | 'status'> & { status: string },
    siteOrgUnitId: string | null,
    viaSite: boolean,
  ): TenantContext | null {
    if (row.status === 'cancelled') return null;
    return { ...row, status: row.status as control.TenantStatus, siteOrgUnitId, viaSite };
  }

  /** Forgets every cached host → tenant answer and site-host list (a domain changed). */
  forgetHosts(): void {
    this.options.hostCache.clear();
    this.options.statusCache.clear();
    (this.options.siteHostsCache ?? sharedSiteHosts).clear();
  }

  /** Forgets every cached answer of this reader (the workers' close). */
  forgetAll(): void {
    this.forgetHosts();
    this.tenantCache.clear();
    this.options.branchCache.clear();
  }

  /**
   * The hostnames of a tenant's own verified `site` and `app` domains (lower-case, no port), e.g. the
   * origins its public endpoints accept (CORS). Cached for the tenant-cache TTL (a domain added
   * or removed elsewhere takes effect within that time; through this process at once).
   */
  async siteHosts(tenantId: string): Promise<readonly string[]> {
    const cache = this.options.siteHostsCache ?? sharedSiteHosts;
    const cached = cache.get(tenantId);
    if (cached) return cached;
    const db = await this.options.open();
    const rows = await db
      .select({ hostname: control.tenantDomains.hostname })
      .from(control.tenantDomains)
      .where(
        and(
          eq(control.tenantDomains.tenantId, tenantId),
          inArray(control.tenantDomains.purpose, ['site', 'app']),
          isNull(control.tenantDomains.deletedAt),
          isNotNull(control.tenantDomains.verifiedAt),
        ),
      );
    const hosts = rows.map((r) => r.hostname);
    cache.set(tenantId, hosts, this.options.ttlMs);
    return hosts;
  }

  /** The app-role connection URI of a branch, decrypted once and cached. */
  async branchUrl(branchId: string): Promise<string> {
    const cached = this.options.branchCache.get(branchId);
    if (cached) return cached;
    const db = await this.options.open();
    const [row] = await db
      .select({ secret: control.branches.connectionSecret, status: control.branches.status })
      .from(control.branches)
      .where(eq(control.branches.id, branchId));
    const readyOnly = this.options.readyBranchesOnly !== false;
    if (!row || (readyOnly && row.status !== 'ready')) {
      throw new Error(
        `branch ${branchId} ${readyOnly ? 'is not ready' : 'not found in the control plane'}`,
      );
    }
    const url = await decryptSecret(row.secret, this.options.secretKey);
    this.options.branchCache.set(branchId, url, 10 * 60_000);
    return url;
  }

  /** The control database itself, for platform operations. */
  db(): Promise<ControlDb> {
    return this.options.open();
  }
}
