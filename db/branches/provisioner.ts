/** Where a tenant's data lives: the shared pool branch or a branch of its own. */
export type BranchKind = 'pool' | 'dedicated';
export type BranchProviderName = 'local' | 'neon';

/** What a provisioner hands back for a branch that accepts connections. */
export interface ProvisionedBranch {
  /** Stable name, unique in the control plane (e.g. `pool`, `t-<slug>`). */
  name: string;
  provider: BranchProviderName;
  databaseName: string;
  /** Connection URI for the app role (NOSUPERUSER, NOBYPASSRLS). Stored encrypted. */
  appUrl: string;
  /** Neon identifiers, when the provider is `neon`. */
  neon?: { projectId: string; branchId: string; endpointId: string };
}

/** Creates, reaches and removes tenant branches; one implementation per provider. */
export interface BranchProvisioner {
  readonly provider: BranchProviderName;
  /** Creates a branch from the template branch and returns once it accepts connections. */
  create(name: string): Promise<ProvisionedBranch>;
  /** Owner connection to the template branch every new branch is copied from (migrations). */
  templateOwnerUrl(): Promise<string>;
  /** Connection URI with the owner's rights on a branch (migrations, bulk loads). */
  ownerUrl(branch: ProvisionedBranch): Promise<string>;
  /** Removes a branch that provisioning created (used to undo a half-created tenant). */
  drop(branch: ProvisionedBranch): Promise<void>;
}
