import { eq } from 'drizzle-orm';
import { createDb, type Db, type DbHandle } from '../db/connection-node.js';
import type { DbEnv } from '../db/env.js';
import * as control from '../db/schema/control.js';
import * as tenantSchema from '../db/schema/tenant.js';
import { decryptSecret } from '../db/secrets.js';
import type { TenantSchema } from '../db/schema/types.js';

/**
 * What the workers need from the control plane — a tenant's status, time zone and branch,
 * the active tenants for the sweep — and the branch connections, cached for the life of the
 * worker process: tenant rows for a short TTL (a suspension takes effect within it), one
 * app-role pool per branch (many tenants share the pool branch).
 */

export interface TenantRecord {
  id: string;
  slug: string;
  status: string;
  timezone: string;
  branchId: string;
}

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

const columns = {
  id: control.tenants.id,
  slug: control.tenants.slug,
  status: control.tenants.status,
  timezone: control.tenants.timezone,
  branchId: control.tenants.branchId,
};

export class ControlPlane implements TenantDirectory {
  private controlDb: Promise<DbHandle<typeof control>> | null = null;
  private readonly tenants = new Map<string, { at: number; value: Promise<TenantRecord | null> }>();
  private readonly branches = new Map<string, Promise<BranchHandle & { close(): Promise<void> }>>();

  constructor(
    private readonly env: DbEnv,
    private readonly options: ControlPlaneOptions = {},
  ) {}

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
    const ttl = this.options.cacheTtlMs ?? 30_000;
    const key = id.toLowerCase();
    const hit = this.tenants.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit.value;
    const value = this.db().then(async (db) => {
      const [row] = await db
        .select(columns)
        .from(control.tenants)
        .where(eq(control.tenants.id, key));
      return row ?? null;
    });
    this.tenants.set(key, { at: Date.now(), value });
    // A failed lookup (control plane down) is not an answer: never cache it.
    value.catch(() => this.tenants.delete(key));
    return value;
  }

  async tenantBySlug(slug: string): Promise<TenantRecord | null> {
    const db = await this.db();
    const [row] = await db
      .select(columns)
      .from(control.tenants)
      .where(eq(control.tenants.slug, slug));
    return row ?? null;
  }

  async activeTenants(): Promise<TenantRecord[]> {
    const db = await this.db();
    return db
      .select(columns)
      .from(control.tenants)
      .where(eq(control.tenants.status, 'active'))
      .orderBy(control.tenants.id);
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
    const db = await this.db();
    const [row] = await db
      .select({ secret: control.branches.connectionSecret })
      .from(control.branches)
      .where(eq(control.branches.id, branchId));
    if (!row) throw new Error(`branch ${branchId} not found in the control plane`);
    const url = await decryptSecret(row.secret, this.env.BRANCH_SECRET_KEY);
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
    this.tenants.clear();
    await Promise.allSettled(branches.map(async (b) => (await b).close()));
    const controlDb = this.controlDb;
    this.controlDb = null;
    if (controlDb) await controlDb.then((h) => h.close()).catch(() => undefined);
  }
}
