import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { createTokenKeys, type TokenKeys } from '../../api/auth/jwt.js';
import { browserAudience, SESSION_COOKIE } from '../../api/auth/middleware.js';
import { parseApiConfig } from '../../api/env.js';
import type { ApiResponse } from '../support/api.js';
import type { ApiWorld } from '../support/api-world.js';

/**
 * People and tokens for the leads, metrics, dashboards and platform tests, written as
 * superuser straight into a branch (RLS does not apply to superusers). Tokens are signed
 * with the test signing key and backed by a refresh-token family, as authenticate()
 * requires, so they do not depend on the login endpoint's rate of hashing.
 */
export class Staff {
  private constructor(
    private readonly world: ApiWorld,
    private readonly keys: TokenKeys,
    private readonly clients: Map<string, pg.Client>,
  ) {}

  static async open(world: ApiWorld): Promise<Staff> {
    const config = parseApiConfig({ NODE_ENV: 'test' });
    return new Staff(
      world,
      await createTokenKeys(config.signingKeys, config.JWT_ISSUER),
      new Map(),
    );
  }

  /** A superuser client on one of the environment's branches (`pool`, `t_<slug>`). */
  async db(branch = 'pool'): Promise<pg.Client> {
    let client = this.clients.get(branch);
    if (!client) {
      client = new pg.Client({ connectionString: this.world.t.adminUrl(branch) });
      await client.connect();
      this.clients.set(branch, client);
    }
    return client;
  }

  /** The tenant's root (network) org unit. */
  async root(tenantId: string, branch = 'pool'): Promise<string> {
    const db = await this.db(branch);
    const r = await db.query<{ id: string }>(
      `select id from org_units where tenant_id = $1 and kind = 'network'`,
      [tenantId],
    );
    return r.rows[0]!.id;
  }

  /** A school under the tenant's root. */
  async school(tenantId: string, name: string, branch = 'pool'): Promise<string> {
    const db = await this.db(branch);
    const r = await db.query<{ id: string }>(
      `insert into org_units (tenant_id, parent_id, kind, name, code)
       values ($1, $2, 'school', $3, $4) returning id`,
      [tenantId, await this.root(tenantId, branch), name, `S-${randomUUID().slice(0, 8)}`],
    );
    return r.rows[0]!.id;
  }

  /** An active user holding the given roles (each tenant-wide or scoped to an org unit). */
  async user(
    tenantId: string,
    roles: { role: string; orgUnitId?: string | null }[],
    branch = 'pool',
  ): Promise<string> {
    const db = await this.db(branch);
    const r = await db.query<{ id: string }>(
      `insert into users (tenant_id, email, first_name, last_name, status)
       values ($1, $2, 'Test', 'Person', 'active') returning id`,
      [tenantId, `${randomUUID()}@people.test`],
    );
    const userId = r.rows[0]!.id;
    for (const { role, orgUnitId } of roles) {
      const granted = await db.query(
        `insert into user_roles (tenant_id, user_id, role_id, org_unit_id)
         select $1, $2, id, $4 from roles where tenant_id = $1 and key = $3`,
        [tenantId, userId, role, orgUnitId ?? null],
      );
      if (granted.rowCount !== 1) throw new Error(`no role ${role} in tenant ${tenantId}`);
    }
    return userId;
  }

  /** An access token for the user, with a live session behind it. */
  async token(
    tenantId: string,
    userId: string,
    options: { branch?: string; browser?: boolean } = {},
  ): Promise<string> {
    const db = await this.db(options.branch ?? 'pool');
    const sid = randomUUID();
    await db.query(
      `insert into refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at)
       values ($1, $2, $3, $4, now() + interval '1 day')`,
      [tenantId, userId, sid, randomBytes(32).toString('hex')],
    );
    const audience = options.browser ? browserAudience('homeroom-api') : 'homeroom-api';
    return this.keys.sign(
      { sub: userId, tenant: tenantId, roles: [], sid },
      { audience, ttlSeconds: 900 },
    );
  }

  /** A user with the roles, and a token for them. */
  async person(
    tenantId: string,
    roles: { role: string; orgUnitId?: string | null }[],
    branch = 'pool',
  ): Promise<{ userId: string; token: string }> {
    const userId = await this.user(tenantId, roles, branch);
    return { userId, token: await this.token(tenantId, userId, { branch }) };
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) await c.end().catch(() => undefined);
    this.clients.clear();
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const sessionCookie = (token: string) => ({ cookie: `${SESSION_COOKIE}=${token}` });

/** Asserts an RFC 9457 problem with the given status and stable type. */
export function expectProblem(r: ApiResponse, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(r.json.type).toBe(`https://docs.homeroom.app/problems/${code}`);
}

/** Polls until `check` stops throwing (for effects written off the request path). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
