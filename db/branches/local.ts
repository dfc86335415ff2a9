import { sql, type SQL } from 'drizzle-orm';
import type { BranchProvisioner, ProvisionedBranch } from './provisioner.js';
import { ident } from '../sql-text.js';

/**
 * Runs one statement on the cluster's maintenance database (`postgres`) outside any
 * transaction — CREATE and DROP DATABASE refuse to run inside one — and returns its rows.
 * Built on whatever driver the runtime has (see `clusterSql` in db/tenants/branches.ts), so this
 * module stays free of `pg` and can run on workerd.
 */
export type ClusterSql = (statement: SQL) => Promise<Record<string, unknown>[]>;

export interface LocalProvisionerOptions {
  /** A superuser (or CREATEDB + member of the owner role) connection to the cluster. */
  adminUrl: string;
  /** Runs CREATE/DROP DATABASE as `adminUrl`'s role; must not wrap them in a transaction. */
  cluster: ClusterSql;
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
    await this.createDatabase(this.templateDatabase);
    return withDatabase(this.options.adminUrl, this.templateDatabase);
  }

  async create(name: string): Promise<ProvisionedBranch> {
    const databaseName = this.databaseFor(name);
    const created = await this.createDatabase(databaseName, this.templateDatabase);
    if (!created) throw new Error(`database ${databaseName} already exists`);
    return { name, provider: 'local', databaseName, appUrl: this.appUrl(databaseName) };
  }

  async ownerUrl(branch: ProvisionedBranch): Promise<string> {
    return withDatabase(this.options.adminUrl, branch.databaseName);
  }

  async drop(branch: ProvisionedBranch): Promise<void> {
    await retryWhileTemplateBusy(() =>
      this.options.cluster(
        sql.raw(`drop database if exists ${ident(branch.databaseName)} with (force)`),
      ),
    );
  }

  /** Creates a database owned by the owner role unless it exists; true when created. */
  private async createDatabase(name: string, template?: string): Promise<boolean> {
    const found = await this.options.cluster(
      sql`select 1 as found from pg_database where datname = ${name}`,
    );
    if (found.length > 0) return false;
    const from = template ? ` template ${ident(template)}` : '';
    try {
      await retryWhileTemplateBusy(() =>
        this.options.cluster(
          sql.raw(`create database ${ident(name)} owner ${ident(this.options.ownerRole)}${from}`),
        ),
      );
    } catch (err) {
      // Someone else created it between the check and the CREATE.
      if (sqlStateOf(err) === '42P04') return false;
      throw err;
    }
    return true;
  }

  /** App-role URI for a database on the same cluster as the admin connection. */
  private appUrl(databaseName: string): string {
    const u = new URL(withDatabase(this.options.adminUrl, databaseName));
    u.username = this.options.appRole;
    u.password = this.options.appPassword ?? '';
    return u.toString();
  }
}

/** The SQLSTATE of a driver error, looking through drizzle's wrapping (`cause`). */
export function sqlStateOf(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * CREATE DATABASE … TEMPLATE fails while any session is connected to the template, and a
 * closed connection's backend can take a moment to exit: retry briefly on that one error.
 */
export async function retryWhileTemplateBusy<T>(run: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (sqlStateOf(err) !== '55006' || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100 * i));
    }
  }
}

/** The same connection URI pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Database name of a connection URI. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** The prefix a deployment's databases share: the control database's own name. */
export function localPrefix(controlUrl: string): string {
  return databaseOf(controlUrl);
}
