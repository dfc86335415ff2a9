import { afterAll } from 'vitest';
import type { CreatedTenant } from '../../db/tenants/create.js';
import { Staff } from './staff.js';
import { call, type ApiResponse, type ApiTarget, type ApiVars } from './api.js';
import { ADMIN_PASSWORD, createApiWorld, login, type ApiWorld } from './api-world.js';

export type TenantKey = 'alpha' | 'beta';
export type Runtime = ApiTarget['runtime'];

/** Requests to one runtime on one tenant's host; `token` null sends no Authorization. */
export interface Api {
  request(
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  get(path: string, token: string | null, headers?: Record<string, string>): Promise<ApiResponse>;
  post(
    path: string,
    token: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  patch(
    path: string,
    token: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  put(
    path: string,
    token: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  delete(
    path: string,
    token: string | null,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
}

/**
 * The world every black-box API test starts from, built once per file: a fresh environment
 * with the tenants `alpha` and `beta` (hosts `alpha.test`, `beta.test`), the app on Node and
 * in workerd, and `staff` to write people and records straight into the branch. A file
 * declares only what is its own, at top level:
 *
 *   const h = await Harness.init('grades_api');
 *   const { north, teacher } = await h.setup(async () => ({ north: …, teacher: … }));
 *
 * `init` registers `afterAll(close)`; `setup` closes the harness when building fails, so
 * no databases or processes outlive a broken file.
 */
export class Harness {
  readonly tenants: Record<TenantKey, CreatedTenant & { host: string }>;

  private constructor(
    readonly world: ApiWorld,
    readonly staff: Staff,
  ) {
    this.tenants = {
      alpha: { ...world.alpha, host: 'alpha.test' },
      beta: { ...world.beta, host: 'beta.test' },
    };
  }

  static async init(
    label: string,
    options: { runtimes?: Runtime[]; vars?: ApiVars } = {},
  ): Promise<Harness> {
    const world = await createApiWorld(label, options);
    let staff: Staff;
    try {
      staff = await Staff.open(world);
    } catch (err) {
      await world.close();
      throw err;
    }
    const h = new Harness(world, staff);
    afterAll(() => h.close());
    return h;
  }

  get targets(): ApiTarget[] {
    return this.world.targets;
  }

  target(runtime: Runtime): ApiTarget {
    const found = this.world.targets.find((t) => t.runtime === runtime);
    if (!found) throw new Error(`no ${runtime} target in this harness`);
    return found;
  }

  /** Builds the file's own fixtures; closes the harness if that fails. */
  async setup<T>(build: () => Promise<T>): Promise<T> {
    try {
      return await build();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** A token for the tenant's first admin (`network_admin`). */
  admin(tenant: TenantKey): Promise<string> {
    const t = this.tenants[tenant];
    return this.staff.token(t.id, t.adminUserId);
  }

  /** Signs in through the API (the first runtime) and returns the access token. */
  async login(tenant: TenantKey, email: string, password = ADMIN_PASSWORD): Promise<string> {
    return (await login(this.targets[0]!, this.tenants[tenant].host, email, password)).access_token;
  }

  /** Requests to one runtime on the tenant's host. */
  api(runtime: Runtime, tenant: TenantKey = 'alpha'): Api {
    const request: Api['request'] = (method, path, token, body, headers = {}) =>
      call(this.target(runtime), method, path, {
        host: this.tenants[tenant].host,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        body,
      });
    return {
      request,
      get: (path, token, headers) => request('GET', path, token, undefined, headers),
      post: (path, token, body, headers) => request('POST', path, token, body, headers),
      patch: (path, token, body, headers) => request('PATCH', path, token, body, headers),
      put: (path, token, body, headers) => request('PUT', path, token, body, headers),
      delete: (path, token, headers) => request('DELETE', path, token, undefined, headers),
    };
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.staff.close();
    await this.world.close();
  }
}
