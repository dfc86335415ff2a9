import pg from 'pg';
import type { BranchProvisioner, ProvisionedBranch } from './provisioner.js';
import { databaseOf, ensureDatabase, retryWhileTemplateBusy, withDatabase } from '../migrate.js';

export interface LocalProvisionerOptions {
  /** A superuser (or CREATEDB + member of the owner role) connection to the cluster. */
  adminUrl: string;
  /** Prefix of every database this deployment owns, normally the control database's name. */
  prefix: string;
  ownerRole: string;
  appRole: string;
  appPassword?: string | undefined;
}

/**
 * Branches as databases of one local PostgreSQL cluster: a dedicated branch is
 * `CREATE DATABASE <prefix>_<name> TEMPLATE <prefix>_template`, which copies the migrated
 * schema, roles' grants and policies in one step, like a Neon branch of the template.
 */
export class LocalProvisioner implements BranchProvisioner {
  readonly provider = 'local' as const;
  constructor(private readonly options: LocalProvisionerOptions) {}

  /** Database name of the template branch. */
  get templateDatabase(): string {
    return `${this.options.prefix}_template`;
  }

  /** Database name a branch gets. */
  databaseFor(name: string): string {
    const safe = name.toLowerCase().replace(/[^a-z0-9]+/g, '_');
    const db = `${this.options.prefix}_${safe}`;
    if (db.length > 63) throw new Error(`branch name too long for a database name: ${name}`);
    return db;
  }

  /** Owner connection to the template, creating the (empty) template database if needed. */
  async templateOwnerUrl(): Promise<string> {
    await ensureDatabase(this.options.adminUrl, this.templateDatabase, this.options.ownerRole);
    return withDatabase(this.options.adminUrl, this.templateDatabase);
  }

  async create(name: string): Promise<ProvisionedBranch> {
    const databaseName = this.databaseFor(name);
    const created = await ensureDatabase(
      this.options.adminUrl,
      databaseName,
      this.options.ownerRole,
      this.templateDatabase,
    );
    if (!created) throw new Error(`database ${databaseName} already exists`);
    return { name, provider: 'local', databaseName, appUrl: this.appUrl(databaseName) };
  }

  async ownerUrl(branch: ProvisionedBranch): Promise<string> {
    return withDatabase(this.options.adminUrl, branch.databaseName);
  }

  async drop(branch: ProvisionedBranch): Promise<void> {
    const client = new pg.Client({
      connectionString: withDatabase(this.options.adminUrl, 'postgres'),
    });
    await client.connect();
    try {
      await retryWhileTemplateBusy(() =>
        client.query(
          `drop database if exists "${branch.databaseName.replace(/"/g, '""')}" with (force)`,
        ),
      );
    } finally {
      await client.end();
    }
  }

  /** App-role URI for a database on the same cluster as the admin connection. */
  private appUrl(databaseName: string): string {
    const u = new URL(withDatabase(this.options.adminUrl, databaseName));
    u.username = this.options.appRole;
    u.password = this.options.appPassword ?? '';
    return u.toString();
  }
}

/** The prefix a deployment's databases share: the control database's own name. */
export function localPrefix(controlUrl: string): string {
  return databaseOf(controlUrl);
}
