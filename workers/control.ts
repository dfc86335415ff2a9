import { createDb, type Db, type DbHandle } from '../db/connection-node.js';
import {
  ControlPlane as ControlPlaneReader,
  TtlCache,
  type TenantRecord,
} from '../db/control-plane.js';
import type { DbEnv } from '../db/env.js';
import * as control from '../db/schema/control.js';
import * as tenantSchema from '../db/schema/tenant.js';
import type { TenantSchema } from '../db/schema/types.js';

/**
 * What the workers need from the control plane — a tenant's status, time zone and branch,
 * the active tenants for the sweep — read through the one reader (`db/control-plane.ts`)
 * with caches for the life of the worker process: tenant rows for a short TTL (a suspension
 * takes effect within it), branch URIs; and the branch connections, one app-role pool per
 * branch (many tenants share the pool branch).
 */

export type { TenantRecord };

export interface BranchHandle {
  id: string;
  /** App-role connection URI (decrypted): what the extraction connects with. */
  url: string;
  /** A pool on `url`, shared by every job of this process on this branch. */
  db: Db<TenantSchema>;
}

/** The lookups a refresh needs; `ControlPlane` reads them from PostgreSQL. */
export interface TenantDirectory {
  tenant(id: string): Promise<TenantRecord | null>;
  tenantBySlug(slug: string): Promise<TenantRecord | null>;
  /** Every tenant whose status is `active` (uncached: the sweep runs rarely). */
  activeTenants(): Promise<TenantRecord[]>;
  branch(branchId: string): Promise<BranchHandle>;
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** How long a tenant lookup (hit or miss) is reused; default 30 s. */
  cacheTtlMs?: number;
  /** Connections per branch pool; default 4. */
  branchPoolMax?: number;
  onPoolError?: (error: Error) => void;
}

export class ControlPlane implements TenantDirectory {
  private controlDb: Promise<DbHandle<typeof control>> | null = null;
  private readonly reader: ControlPlaneReader;
  private readonly branches = new Map<string, Promise<BranchHandle & { close(): Promise<void> }>>();

  constructor(
    private readonly env: DbEnv,
    private readonly options: ControlPlaneOptions = {},
  ) {
    const ttlMs = options.cacheTtlMs ?? 30_000;
    this.reader = new ControlPlaneReader({
      open: () => this.db(),
      // The workers never resolve hosts; these caches stay empty.
      platformDomain: 'localhost',
      hostCache: new TtlCache(),
      statusCache: new TtlCache(),
      siteHostsCache: new TtlCache(),
      ttlMs,
      negativeTtlMs: ttlMs,
      statusTtlMs: ttlMs,
      secretKey: env.BRANCH_SECRET_KEY,
      tenantCache: new TtlCache(),
      branchCache: new TtlCache(),
      // A refresh reads a tenant's branch whatever its provisioning state says.
      readyBranchesOnly: false,
    });
  }

  private db(): Promise<Db<typeof control>> {
    this.controlDb ??= createDb({
      driver: 'pg',
      url: this.env.DATABASE_URL,
      schema: control,
      max: 2,
      onPoolError: this.options.onPoolError,
    });
    return this.controlDb.then((h) => h.db);
  }

  tenant(id: string): Promise<TenantRecord | null> {
    return this.reader.tenant(id);
  }

  tenantBySlug(slug: string): Promise<TenantRecord | null> {
    return this.reader.tenantBySlug(slug);
  }

  activeTenants(): Promise<TenantRecord[]> {
    return this.reader.activeTenants();
  }

  branch(branchId: string): Promise<BranchHandle> {
    let handle = this.branches.get(branchId);
    if (!handle) {
      handle = this.openBranch(branchId);
      this.branches.set(branchId, handle);
      handle.catch(() => this.branches.delete(branchId));
    }
    return handle;
  }

  private async openBranch(branchId: string): Promise<BranchHandle & { close(): Promise<void> }> {
    const url = await this.reader.branchUrl(branchId);
    const pool = await createDb({
      driver: 'pg',
      url,
      schema: tenantSchema,
      max: this.options.branchPoolMax ?? 4,
      onPoolError: this.options.onPoolError,
    });
    return { id: branchId, url, db: pool.db, close: pool.close };
  }

  async close(): Promise<void> {
    const branches = [...this.branches.values()];
    this.branches.clear();
    this.reader.forgetAll();
    await Promise.allSettled(branches.map(async (b) => (await b).close()));
    const controlDb = this.controlDb;
    this.controlDb = null;
    if (controlDb) await controlDb.then((h) => h.close()).catch(() => undefined);
  }
}
