import { z } from 'zod';
import type { DbEnv } from '../env.js';
import type { BranchProvisioner, ProvisionedBranch } from './provisioner.js';

/** Settings for {@link NeonProvisioner}; the clock and transport are injectable for tests. */
export interface NeonProvisionerOptions {
  apiKey: string;
  projectId: string;
  /** Base of the Neon API, e.g. `https://console.neon.tech/api/v2`. */
  apiUrl: string;
  /** Branch every tenant branch is created from (carries the schema and the app role). */
  templateBranchId: string;
  databaseName: string;
  /** Role that owns the tables; `ownerUrl` asks Neon for its connection URI. */
  ownerRole: string;
  /** NOSUPERUSER, NOBYPASSRLS login role created by the template's migrations. */
  appRole: string;
  appPassword: string;
  fetch?: typeof fetch;
  /** Pause between two polls of an operation or endpoint. Default 1 s. */
  pollIntervalMs?: number;
  /** Longest `create` waits for operations and the endpoint. Default 120 s. */
  timeoutMs?: number;
  /** Abort a single HTTP request after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Further attempts after a 423/429/503 (or a network failure on GET/DELETE). Default 5. */
  maxRetries?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** A non-2xx answer from the Neon API; carries Neon's `code` and `request_id` for support. */
export class NeonApiError extends Error {
  override readonly name = 'NeonApiError';

  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly requestId: string | undefined,
  ) {
    super(message);
  }
}

const DEFAULT_POLL_INTERVAL_MS = 1_000;
const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RETRIES = 5;
const RETRY_BASE_MS = 500;
// A Retry-After far in the future would otherwise park a provisioning job for hours.
const RETRY_CAP_MS = 30_000;

// 423: Neon refuses to schedule work while a conflicting operation runs on the project.
const RETRYABLE_STATUSES = new Set([423, 429, 503]);
// 'skipped' is terminal and harmless: Neon decided the step was not needed.
const DONE_OPERATION = new Set(['finished', 'skipped']);
const FAILED_OPERATION = new Set(['failed', 'error', 'cancelled']);
// An idle endpoint is suspended, not broken: the first connection wakes it.
const READY_ENDPOINT = new Set(['active', 'idle']);

const operationSchema = z.object({
  id: z.string().min(1),
  action: z.string().optional(),
  status: z.string().min(1),
  error: z.string().optional(),
});
type Operation = z.infer<typeof operationSchema>;

const endpointSchema = z.object({
  id: z.string().min(1),
  host: z.string().min(1),
  type: z.string().optional(),
  current_state: z.string().optional(),
});
type Endpoint = z.infer<typeof endpointSchema>;

const createdBranchId = z.object({ branch: z.object({ id: z.string().min(1) }) });
const createBranchResponse = z.object({
  branch: z.object({ id: z.string().min(1) }),
  endpoints: z.array(endpointSchema),
  operations: z.array(operationSchema),
});
const operationResponse = z.object({ operation: operationSchema });
const endpointResponse = z.object({ endpoint: endpointSchema });
const connectionUriResponse = z.object({ uri: z.string().min(1) });
const errorBody = z.object({
  message: z.string().optional(),
  code: z.string().optional(),
  request_id: z.string().optional(),
});

interface Budget {
  readonly startedAt: number;
  slept: number;
}

/** Creates tenant branches from the template branch through the Neon API (fetch only). */
export class NeonProvisioner implements BranchProvisioner {
  readonly provider = 'neon' as const;

  private readonly apiUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxRetries: number;

  constructor(private readonly options: NeonProvisionerOptions) {
    for (const key of [
      'apiKey',
      'projectId',
      'apiUrl',
      'templateBranchId',
      'databaseName',
      'ownerRole',
      'appRole',
      'appPassword',
    ] as const) {
      if (!options[key]) throw new Error(`NeonProvisioner: ${key} is required`);
    }
    this.apiUrl = options.apiUrl.replace(/\/+$/, '');
    // Workers throw "Illegal invocation" when fetch is called detached from globalThis,
    // so the default is a wrapper rather than the bare function.
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  }

  async create(name: string): Promise<ProvisionedBranch> {
    const { projectId, templateBranchId } = this.options;
    const raw = await this.request('POST', `/projects/${enc(projectId)}/branches`, {
      body: {
        branch: { parent_id: templateBranchId, name },
        endpoints: [{ type: 'read_write' }],
      },
    });
    // The id is read on its own first so that a drifted response still lets us undo the branch.
    const branchId = createdBranchId.parse(raw).branch.id;
    const budget: Budget = { startedAt: Date.now(), slept: 0 };

    try {
      const created = createBranchResponse.parse(raw);
      const endpoint = created.endpoints.find(
        (e) => e.type === undefined || e.type === 'read_write',
      );
      if (!endpoint) throw new Error('Neon created the branch without a read_write endpoint');
      await this.awaitOperations(name, branchId, created.operations, budget);
      const ready = await this.awaitEndpoint(name, branchId, endpoint.id, budget);
      return {
        name,
        provider: 'neon',
        databaseName: this.options.databaseName,
        appUrl: this.appUrl(pooledHost(ready)),
        neon: { projectId, branchId, endpointId: ready.id },
      };
    } catch (error) {
      // The caller never learns the branch id from a rejected create, so only we can undo it.
      throw await this.undoCreate(branchId, error);
    }
  }

  async templateOwnerUrl(): Promise<string> {
    return this.ownerUrlOf(this.options.templateBranchId, this.options.databaseName);
  }

  async ownerUrl(branch: ProvisionedBranch): Promise<string> {
    return this.ownerUrlOf(this.neonIds(branch).branchId, branch.databaseName);
  }

  private async ownerUrlOf(branchId: string, databaseName: string): Promise<string> {
    const body = await this.request(
      'GET',
      `/projects/${enc(this.options.projectId)}/connection_uri`,
      {
        query: {
          branch_id: branchId,
          database_name: databaseName,
          role_name: this.options.ownerRole,
          // Migrations and bulk loads use session state that PgBouncer's transaction mode drops.
          pooled: 'false',
        },
      },
    );
    return connectionUriResponse.parse(body).uri;
  }

  async drop(branch: ProvisionedBranch): Promise<void> {
    await this.deleteBranch(this.neonIds(branch).branchId);
  }

  private async deleteBranch(branchId: string): Promise<void> {
    // Deleting the template would break every tenant created after it.
    if (branchId === this.options.templateBranchId) {
      throw new Error(`refusing to delete the template branch ${branchId}`);
    }
    try {
      await this.request(
        'DELETE',
        `/projects/${enc(this.options.projectId)}/branches/${enc(branchId)}`,
      );
    } catch (error) {
      if (error instanceof NeonApiError && error.status === 404) return;
      throw error;
    }
  }

  private neonIds(branch: ProvisionedBranch): { branchId: string } {
    if (branch.provider !== 'neon' || !branch.neon) {
      throw new Error(`branch ${branch.name} is not a Neon branch`);
    }
    if (branch.neon.projectId !== this.options.projectId) {
      throw new Error(
        `branch ${branch.name} belongs to Neon project ${branch.neon.projectId}, not ${this.options.projectId}`,
      );
    }
    return { branchId: branch.neon.branchId };
  }

  private async awaitOperations(
    name: string,
    branchId: string,
    initial: Operation[],
    budget: Budget,
  ): Promise<void> {
    let pending = this.unfinished(name, branchId, initial);
    while (pending.length > 0) {
      const first = pending[0]!;
      await this.pause(
        budget,
        () => `operation ${describeOperation(first)} is still ${first.status}`,
        name,
        branchId,
      );
      const next: Operation[] = [];
      // One at a time: keeps request order deterministic and spares the rate limit.
      for (const op of pending) {
        const body = await this.request(
          'GET',
          `/projects/${enc(this.options.projectId)}/operations/${enc(op.id)}`,
        );
        next.push(operationResponse.parse(body).operation);
      }
      pending = this.unfinished(name, branchId, next);
    }
  }

  private unfinished(name: string, branchId: string, operations: Operation[]): Operation[] {
    for (const op of operations) {
      if (FAILED_OPERATION.has(op.status)) {
        throw new Error(
          `Neon operation ${describeOperation(op)} for branch ${name} (${branchId}) ended with status ${op.status}: ${op.error ?? 'no error given'}`,
        );
      }
    }
    return operations.filter((op) => !DONE_OPERATION.has(op.status));
  }

  private async awaitEndpoint(
    name: string,
    branchId: string,
    endpointId: string,
    budget: Budget,
  ): Promise<Endpoint> {
    const path = `/projects/${enc(this.options.projectId)}/endpoints/${enc(endpointId)}`;
    for (;;) {
      const endpoint = endpointResponse.parse(await this.request('GET', path)).endpoint;
      if (endpoint.current_state && READY_ENDPOINT.has(endpoint.current_state)) return endpoint;
      await this.pause(
        budget,
        () => `endpoint ${endpointId} is ${endpoint.current_state ?? 'in an unknown state'}`,
        name,
        branchId,
      );
    }
  }

  /** Sleeps one poll interval, or throws once the create budget is spent. */
  private async pause(budget: Budget, waitingFor: () => string, name: string, branchId: string) {
    // Counting slept time as well as wall time keeps the bound honest with an injected sleep.
    const elapsed = Math.max(Date.now() - budget.startedAt, budget.slept);
    const remaining = this.timeoutMs - elapsed;
    if (remaining <= 0) {
      throw new Error(
        `timed out after ${this.timeoutMs} ms waiting for Neon branch ${name} (${branchId}): ${waitingFor()}`,
      );
    }
    const ms = Math.min(this.pollIntervalMs, remaining);
    await this.sleep(ms);
    budget.slept += ms;
  }

  private async undoCreate(branchId: string, error: unknown): Promise<Error> {
    const reason = error instanceof Error ? error.message : String(error);
    try {
      await this.deleteBranch(branchId);
      return new Error(`${reason}; the half-created branch ${branchId} was deleted`, {
        cause: error,
      });
    } catch (cleanup) {
      const why = cleanup instanceof Error ? cleanup.message : String(cleanup);
      return new Error(
        `${reason}; deleting the half-created branch ${branchId} also failed (${why}), remove it by hand`,
        { cause: error },
      );
    }
  }

  private appUrl(host: string): string {
    const { appRole, appPassword, databaseName } = this.options;
    return `postgres://${enc(appRole)}:${enc(appPassword)}@${host}/${enc(databaseName)}?sslmode=require`;
  }

  /** One API call with auth, retries for lock/rate-limit/unavailable, and key-free errors. */
  private async request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    opts: { query?: Record<string, string>; body?: unknown } = {},
  ): Promise<unknown> {
    const search = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
    const url = `${this.apiUrl}${path}${search}`;
    const label = `${method} ${path}${search}`;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.options.apiKey}`,
      Accept: 'application/json',
    };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const init: RequestInit = {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    };

    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchFn(url, {
          ...init,
          signal: AbortSignal.timeout(this.requestTimeoutMs),
        });
      } catch (error) {
        // A POST that got no answer may still have created the branch; retrying could make two.
        if (method !== 'POST' && attempt < this.maxRetries) {
          await this.sleep(backoff(attempt, null));
          continue;
        }
        const why = error instanceof Error ? error.message : String(error);
        throw new Error(this.redact(`Neon API ${label} failed without a response: ${why}`));
      }

      if (response.ok) return readBody(response);

      if (RETRYABLE_STATUSES.has(response.status) && attempt < this.maxRetries) {
        // Drain the body so the connection can be reused.
        await response.text().catch(() => undefined);
        await this.sleep(backoff(attempt, response.headers.get('retry-after')));
        continue;
      }

      const parsed = errorBody.safeParse(await readBody(response).catch(() => undefined));
      const detail = parsed.success ? parsed.data : {};
      const extras = [
        detail.code ? `code ${detail.code}` : undefined,
        detail.request_id ? `request_id ${detail.request_id}` : undefined,
      ].filter(Boolean);
      const message =
        `Neon API ${label} returned ${response.status}` +
        (response.statusText ? ` ${response.statusText}` : '') +
        `: ${detail.message ?? 'no message'}` +
        (extras.length ? ` (${extras.join(', ')})` : '');
      throw new NeonApiError(
        this.redact(message),
        method,
        path,
        response.status,
        detail.code,
        detail.request_id,
      );
    }
  }

  // Neon's messages are not ours to trust: make sure none of them carries the key onward.
  private redact(text: string): string {
    return text.split(this.options.apiKey).join('[redacted]');
  }
}

/** Builds a provisioner from the parsed environment; fails naming (never showing) missing settings. */
export function neonProvisionerFromEnv(
  env: DbEnv,
  overrides: Pick<
    NeonProvisionerOptions,
    'fetch' | 'sleep' | 'pollIntervalMs' | 'timeoutMs' | 'requestTimeoutMs' | 'maxRetries'
  > = {},
): NeonProvisioner {
  const required = {
    NEON_API_KEY: env.NEON_API_KEY,
    NEON_PROJECT_ID: env.NEON_PROJECT_ID,
    NEON_TEMPLATE_BRANCH_ID: env.NEON_TEMPLATE_BRANCH_ID,
    APP_DB_PASSWORD: env.APP_DB_PASSWORD,
  };
  const missing = Object.entries(required)
    .filter(([, value]) => !value)
    .map(([key]) => key);
  if (missing.length > 0) {
    throw new Error(`the Neon provisioner needs ${missing.join(', ')}`);
  }
  return new NeonProvisioner({
    apiKey: required.NEON_API_KEY!,
    projectId: required.NEON_PROJECT_ID!,
    apiUrl: env.NEON_API_URL,
    templateBranchId: required.NEON_TEMPLATE_BRANCH_ID!,
    databaseName: env.NEON_DATABASE_NAME,
    ownerRole: env.NEON_OWNER_ROLE,
    appRole: env.APP_DB_ROLE,
    appPassword: required.APP_DB_PASSWORD!,
    ...overrides,
  });
}

/**
 * Neon's pooled hostname is the endpoint host with `-pooler` after the endpoint id, e.g.
 * `ep-x-123.c-3.us-east-2.aws.neon.tech` → `ep-x-123-pooler.c-3.us-east-2.aws.neon.tech`.
 */
export function pooledHost(endpoint: { id: string; host: string }): string {
  const prefix = `${endpoint.id}.`;
  if (!endpoint.host.startsWith(prefix)) {
    // Guessing here would hand the app a hostname that may not resolve.
    throw new Error(`Neon endpoint ${endpoint.id} has unexpected host ${endpoint.host}`);
  }
  return `${endpoint.id}-pooler.${endpoint.host.slice(prefix.length)}`;
}

function describeOperation(op: Operation): string {
  return op.action ? `${op.action} (${op.id})` : op.id;
}

function enc(value: string): string {
  return encodeURIComponent(value);
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Delay before retry `attempt` (0-based): Retry-After when given, else exponential; both capped. */
function backoff(attempt: number, retryAfter: string | null): number {
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    if (retryAfter.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) {
      return Math.min(seconds * 1000, RETRY_CAP_MS);
    }
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.min(Math.max(at - Date.now(), 0), RETRY_CAP_MS);
  }
  return Math.min(RETRY_BASE_MS * 2 ** attempt, RETRY_CAP_MS);
}
