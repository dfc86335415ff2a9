import { eq } from 'drizzle-orm';
import pg from 'pg';
import { createDb } from '../connection-node.js';
import type { EmbeddedCluster } from '../embedded/cluster.js';
import { ensureRoles, type RoleNames } from '../migrate.js';
import * as control from '../schema/control.js';
import { decryptSecret, encryptSecret } from '../secrets.js';
import { ident } from '../sql-text.js';
import { LocalProvisioner, withDatabase } from './local.js';
import type { BranchProvisioner, ProvisionedBranch } from './provisioner.js';

/**
 * Branches on the embedded PGlite cluster (`npm run demo` without DATABASE_URL). Names,
 * URLs and the stored provider (`local`) are the local provisioner's, so everything that
 * only reads branches (`provisionerFor`, the API, the workers) works unchanged; creating
 * one copies the template database's directory instead of `CREATE DATABASE … TEMPLATE`.
 */
export class PgliteProvisioner implements BranchProvisioner {
  readonly provider = 'local' as const;
  private readonly local: LocalProvisioner;

  constructor(
    private readonly cluster: EmbeddedCluster,
    private readonly options: RoleNames & { adminUrl: string; prefix: string },
  ) {
    this.local = new LocalProvisioner({
      adminUrl: options.adminUrl,
      cluster: () => Promise.reject(new Error('the embedded cluster takes no CREATE DATABASE')),
      prefix: options.prefix,
      ownerRole: options.ownerRole,
      appRole: options.appRole,
    });
  }

  async templateOwnerUrl(): Promise<string> {
    const name = this.local.templateDatabase;
    if (!(await this.cluster.hasDatabase(name))) await this.cluster.createDatabase(name);
    await prepareDatabase(this.cluster.url(name), this.options);
    return withDatabase(this.options.adminUrl, name);
  }

  async create(name: string): Promise<ProvisionedBranch> {
    const databaseName = this.local.databaseFor(name);
    await this.cluster.createDatabase(databaseName, this.local.templateDatabase);
    const appUrl = new URL(withDatabase(this.options.adminUrl, databaseName));
    appUrl.username = this.options.appRole;
    return { name, provider: 'local', databaseName, appUrl: appUrl.toString() };
  }

  async ownerUrl(branch: ProvisionedBranch): Promise<string> {
    return withDatabase(this.options.adminUrl, branch.databaseName);
  }

  async drop(branch: ProvisionedBranch): Promise<void> {
    await this.cluster.dropDatabase(branch.databaseName);
  }
}

/**
 * What `CREATE DATABASE … OWNER` gives a server database: the roles (each PGlite database
 * is a cluster of its own) and the owner role owning the database, so migrations running
 * as that role may create schemas.
 */
export async function prepareDatabase(url: string, roles: RoleNames): Promise<void> {
  await ensureRoles(url, roles);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `do $$ begin execute format('alter database %I owner to ${ident(roles.ownerRole)}', current_database()); end $$`,
    );
  } finally {
    await client.end();
  }
}

/**
 * Points every stored branch URL at the cluster's current address: branch URLs are kept in
 * the control plane, and the cluster may listen on another port than on the last run.
 */
export async function repointBranches(
  controlUrl: string,
  secretKey: string,
  cluster: EmbeddedCluster,
): Promise<number> {
  const { db, close } = await createDb({ driver: 'pg', url: controlUrl, schema: control, max: 1 });
  let changed = 0;
  try {
    const rows = await db
      .select({ id: control.branches.id, secret: control.branches.connectionSecret })
      .from(control.branches);
    for (const row of rows) {
      const url = new URL(await decryptSecret(row.secret, secretKey));
      if (url.hostname === cluster.host && url.port === String(cluster.port)) continue;
      url.hostname = cluster.host;
      url.port = String(cluster.port);
      await db
        .update(control.branches)
        .set({ connectionSecret: await encryptSecret(url.toString(), secretKey) })
        .where(eq(control.branches.id, row.id));
      changed++;
    }
    return changed;
  } finally {
    await close();
  }
}
