import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTenant } from '../../db/platform.js';
import type {
  AnySnapshot,
  MetricName,
  MetricPayloads,
  MetricPeriod,
} from '../../analytics/metrics/types.js';
import { refreshTenant, type RefreshOptions, type RefreshResult } from '../../analytics/refresh.js';
import { createTestEnvironment, type TestEnvironment } from '../support/environment.js';

/**
 * A deployment for warehouse tests: a fresh environment, a scratch warehouse directory and
 * a superuser connection to the pool branch for building crafted datasets (the refresh
 * itself always connects as the app role).
 */
export interface AnalyticsWorld {
  t: TestEnvironment;
  dir: string;
  admin: pg.Client;
  tenant(slug: string): Promise<TenantFixture>;
  close(): Promise<void>;
}

export async function createAnalyticsWorld(label: string): Promise<AnalyticsWorld> {
  const t = await createTestEnvironment(label);
  const dir = await mkdtemp(join(tmpdir(), `hr-wh-${label}-`));
  const admin = new pg.Client({ connectionString: t.adminUrl('pool') });
  await admin.connect();
  return {
    t,
    dir,
    admin,
    async tenant(slug) {
      const created = await createTenant(t.env, {
        slug,
        name: `${slug} network`,
        domains: [`${slug}.test`],
        placement: 'pool',
        adminEmail: `admin@${slug}.test`,
        adminPassword: 'Correct-Horse-Battery-9',
        actor: 'test',
      });
      return new TenantFixture(created.id, created.rootOrgUnitId, t.appUrl('pool'), dir, admin);
    },
    async close() {
      await admin.end().catch(() => undefined);
      await t.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export class TenantFixture {
  constructor(
    readonly id: string,
    readonly rootOrgUnitId: string,
    readonly appUrl: string,
    readonly dir: string,
    readonly admin: pg.Client,
  ) {}

  /** Inserts one row (tenant_id added) and returns its id. */
  async insert(table: string, row: Record<string, unknown>): Promise<string> {
    const cols = Object.keys(row);
    const values = cols.map((c) => {
      const v = row[c];
      return v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v;
    });
    const r = await this.admin.query<{ id: string }>(
      `insert into "${table}" (tenant_id${cols.map((c) => `, "${c}"`).join('')})
       values ($1${cols.map((_, i) => `, $${i + 2}`).join('')}) returning id`,
      [this.id, ...values],
    );
    return r.rows[0]!.id;
  }

  async exec(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return this.admin.query(sql, params);
  }

  refresh(options: Partial<RefreshOptions> = {}): Promise<RefreshResult> {
    return refreshTenant({
      tenantId: this.id,
      branchUrl: this.appUrl,
      warehouseDir: this.dir,
      mode: 'full',
      ...options,
    });
  }

  /** A school org unit under the tenant's root. */
  school(code: string): Promise<string> {
    return this.insert('org_units', {
      parent_id: this.rootOrgUnitId,
      kind: 'school',
      name: `School ${code}`,
      code,
    });
  }
}

/** The payload of one snapshot, failing loudly when it is absent. */
export function payloadOf<M extends MetricName>(
  snapshots: readonly AnySnapshot[],
  metric: M,
  scopeId: string | null,
  period: MetricPeriod,
): MetricPayloads[M] {
  const s = snapshots.find(
    (x) => x.metric === metric && x.scopeId === scopeId && x.period === period,
  );
  if (!s) throw new Error(`no ${metric} snapshot for ${scopeId ?? 'tenant'} ${period}`);
  return s.payload as MetricPayloads[M];
}
