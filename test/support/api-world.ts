import pg from 'pg';
import { createTenant } from '../../db/platform.js';
import type { CreatedTenant } from '../../db/tenants/create.js';
import {
  call,
  startNodeApi,
  startWorkerdApi,
  type ApiResponse,
  type ApiTarget,
  type ApiVars,
} from './api.js';
import { createTestEnvironment, type TestEnvironment } from './environment.js';

export const ADMIN_PASSWORD = 'Correct-Horse-Battery-9';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A deployment for black-box API tests: a fresh environment with two tenants on the pool
 * (`alpha.test`, `beta.test`; each also answers at `<slug>.localhost`) and the app running
 * on Node and in workerd against it. API test files reach it through `Harness`
 * (test/support/harness.ts), which adds the staff writer, requests per runtime and cleanup.
 */
export interface ApiWorld {
  t: TestEnvironment;
  alpha: CreatedTenant;
  beta: CreatedTenant;
  targets: ApiTarget[];
  vars: ApiVars;
  close(): Promise<void>;
}

export async function createApiWorld(
  label: string,
  options: { runtimes?: ApiTarget['runtime'][]; vars?: ApiVars } = {},
): Promise<ApiWorld> {
  const t = await createTestEnvironment(label);
  const tenant = (slug: string) =>
    createTenant(t.env, {
      slug,
      name: `${slug[0]!.toUpperCase()}${slug.slice(1)} Academy`,
      domains: [`${slug}.test`],
      placement: 'pool',
      adminEmail: `admin@${slug}.test`,
      adminPassword: ADMIN_PASSWORD,
      adminName: `${slug} Admin`,
      actor: 'test',
    });
  const alpha = await tenant('alpha');
  const beta = await tenant('beta');
  // The worlds' admins sign in with a password alone: the tenants' policy requires a second
  // factor of no role. Two-factor tests set the policy they need (test/api/auth-mfa.test.ts).
  const pool = new pg.Client({ connectionString: t.adminUrl('pool') });
  await pool.connect();
  try {
    await pool.query(
      `insert into auth_policies (tenant_id, mfa_required_roles) select unnest($1::uuid[]), '{}'`,
      [[alpha.id, beta.id]],
    );
  } finally {
    await pool.end();
  }
  const vars: ApiVars = {
    DATABASE_URL: t.env.DATABASE_URL,
    REDIS_URL,
    PLATFORM_DOMAIN: 'localhost',
    ...options.vars,
  };
  const targets: ApiTarget[] = [];
  for (const runtime of options.runtimes ?? ['node', 'workerd']) {
    targets.push(runtime === 'node' ? await startNodeApi(vars) : await startWorkerdApi(vars));
  }
  return {
    t,
    alpha,
    beta,
    targets,
    vars,
    async close() {
      for (const target of targets) await target.close().catch(() => undefined);
      await t.destroy();
    },
  };
}

/** Logs in and returns the token response (throws unless 200). */
export async function login(
  target: ApiTarget,
  host: string,
  email: string,
  password = ADMIN_PASSWORD,
): Promise<{ access_token: string; refresh_token: string; expires_in: number }> {
  const r: ApiResponse = await call(target, 'POST', '/v1/auth/login', {
    host,
    body: { email, password },
  });
  if (r.status !== 200) throw new Error(`login failed for ${email}@${host}: ${r.status} ${r.text}`);
  return r.json;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
