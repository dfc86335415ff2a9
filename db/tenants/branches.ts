import { rowsOf } from '../connection.js';
import type { DbEnv } from '../env.js';
import { decryptSecret, encryptSecret } from '../secrets.js';
import type * as control from '../schema/control.js';
import { databaseOf, LocalProvisioner, withDatabase, type ClusterSql } from '../branches/local.js';
import { neonProvisionerFromEnv } from '../branches/neon.js';
import type { BranchKind, BranchProvisioner, ProvisionedBranch } from '../branches/provisioner.js';
import type { OpenDb } from './deps.js';

/**
 * The branches tenants live on: which provisioner the environment names, and how a
 * control-plane branch row (its connection secret encrypted at rest) maps to and from the
 * provisioner's `ProvisionedBranch`.
 */

/** CREATE/DROP DATABASE on the cluster's `postgres` database, through any driver. */
export function clusterSql(open: OpenDb, adminUrl: string): ClusterSql {
  return async (statement) => {
    const { db, close } = await open(withDatabase(adminUrl, 'postgres'), {}, 1);
    try {
      return rowsOf(await db.execute(statement));
    } finally {
      await close();
    }
  };
}

/** The provisioner the environment names, opening connections with `open`. */
export function provisionerFor(env: DbEnv, open: OpenDb): BranchProvisioner {
  if (env.BRANCH_PROVIDER === 'neon') return neonProvisionerFromEnv(env);
  return new LocalProvisioner({
    adminUrl: env.DATABASE_URL,
    cluster: clusterSql(open, env.DATABASE_URL),
    prefix: databaseOf(env.DATABASE_URL),
    ownerRole: env.OWNER_DB_ROLE,
    appRole: env.APP_DB_ROLE,
    appPassword: env.APP_DB_PASSWORD,
  });
}

export type BranchRow = typeof control.branches.$inferSelect;

/** A branch row as the provisioner knows it, with its connection secret decrypted. */
export async function toProvisioned(row: BranchRow, secretKey: string): Promise<ProvisionedBranch> {
  return {
    name: row.name,
    provider: row.provider as ProvisionedBranch['provider'],
    databaseName: row.databaseName,
    appUrl: await decryptSecret(row.connectionSecret, secretKey),
    ...(row.neonProjectId && row.neonBranchId
      ? {
          neon: {
            projectId: row.neonProjectId,
            branchId: row.neonBranchId,
            endpointId: row.neonEndpointId ?? '',
          },
        }
      : {}),
  };
}

/** Column values recording a provisioned branch, its secret encrypted. */
export async function branchValues(branch: ProvisionedBranch, kind: BranchKind, secretKey: string) {
  return {
    name: branch.name,
    kind,
    provider: branch.provider,
    databaseName: branch.databaseName,
    connectionSecret: await encryptSecret(branch.appUrl, secretKey),
    neonProjectId: branch.neon?.projectId ?? null,
    neonBranchId: branch.neon?.branchId ?? null,
    neonEndpointId: branch.neon?.endpointId ?? null,
  };
}
