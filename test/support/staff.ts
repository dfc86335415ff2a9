import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { createTokenKeys, type TokenKeys } from '../../api/auth/jwt.js';
import { browserAudience, SESSION_COOKIE } from '../../api/auth/middleware.js';
import { parseApiConfig } from '../../api/env.js';
import type { ApiResponse } from './api.js';
import type { ApiWorld } from './api-world.js';

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

  /** A student at a school (number random unless given). */
  async student(
    tenantId: string,
    schoolId: string,
    row: { firstName?: string; lastName?: string; number?: string; userId?: string | null } = {},
    branch = 'pool',
  ): Promise<string> {
    const db = await this.db(branch);
    const r = await db.query<{ id: string }>(
      `insert into students (tenant_id, student_number, first_name, last_name, grade_level,
                             school_id, date_of_birth, user_id)
       values ($1, $2, $3, $4, '5', $5, '2015-04-01', $6) returning id`,
      [
        tenantId,
        row.number ?? `N-${randomUUID().slice(0, 8)}`,
        row.firstName ?? 'Sam',
        row.lastName ?? 'Student',
        schoolId,
        row.userId ?? null,
      ],
    );
    return r.rows[0]!.id;
  }

  /** A guardian (optionally a sign-in user) linked to the students. */
  async guardian(
    tenantId: string,
    studentIds: string[],
    row: { userId?: string | null; firstName?: string; email?: string } = {},
    branch = 'pool',
  ): Promise<string> {
    const db = await this.db(branch);
    const r = await db.query<{ id: string }>(
      `insert into guardians (tenant_id, user_id, first_name, last_name, email, phone)
       values ($1, $2, $3, 'Guardian', $4, '555-0100') returning id`,
      [
        tenantId,
        row.userId ?? null,
        row.firstName ?? 'Pat',
        row.email ?? `${randomUUID()}@family.test`,
      ],
    );
    const guardianId = r.rows[0]!.id;
    for (const studentId of studentIds) {
      await db.query(
        `insert into student_guardians (tenant_id, student_id, guardian_id, relationship)
         values ($1, $2, $3, 'parent')`,
        [tenantId, studentId, guardianId],
      );
    }
    return guardianId;
  }

  /**
   * A class at a school taught by the user (who gets a staff record), with the students
   * enrolled. Returns the class and staff ids.
   */
  async classTaughtBy(
    tenantId: string,
    schoolId: string,
    teacherUserId: string,
    studentIds: string[],
    branch = 'pool',
  ): Promise<{ classId: string; staffId: string; sessionId: string }> {
    const db = await this.db(branch);
    const one = async (text: string, values: unknown[]) =>
      (await db.query<{ id: string }>(text, values)).rows[0]!.id;
    const tag = randomUUID().slice(0, 8);
    const sessionId = await one(
      `insert into academic_sessions (tenant_id, org_unit_id, kind, name, start_date, end_date)
       values ($1, $2, 'term', $3, '2025-08-15', '2026-06-15') returning id`,
      [tenantId, schoolId, `Term ${tag}`],
    );
    const courseId = await one(
      `insert into courses (tenant_id, code, name, subject) values ($1, $2, 'Math', 'math') returning id`,
      [tenantId, `C-${tag}`],
    );
    const classId = await one(
      `insert into classes (tenant_id, course_id, session_id, school_id, section, name)
       values ($1, $2, $3, $4, '1', $5) returning id`,
      [tenantId, courseId, sessionId, schoolId, `Math ${tag}`],
    );
    const existing = await db.query<{ id: string }>(
      `select id from staff where tenant_id = $1 and user_id = $2 and deleted_at is null`,
      [tenantId, teacherUserId],
    );
    const staffId =
      existing.rows[0]?.id ??
      (await one(
        `insert into staff (tenant_id, user_id, employee_number, first_name, last_name, school_id)
         values ($1, $2, $3, 'Tess', 'Teacher', $4) returning id`,
        [tenantId, teacherUserId, `E-${tag}`, schoolId],
      ));
    await db.query(
      `insert into class_teachers (tenant_id, class_id, staff_id) values ($1, $2, $3)`,
      [tenantId, classId, staffId],
    );
    for (const studentId of studentIds) {
      await db.query(
        `insert into class_enrollments (tenant_id, class_id, student_id, entry_date)
         values ($1, $2, $3, '2025-08-15')`,
        [tenantId, classId, studentId],
      );
    }
    return { classId, staffId, sessionId };
  }

  /** Record-access log rows for a student, oldest first. */
  async accessLog(
    studentId: string,
    branch = 'pool',
  ): Promise<
    { user_id: string; access: string; route: string | null; request_id: string | null }[]
  > {
    const db = await this.db(branch);
    const r = await db.query(
      `select user_id::text, access, route, request_id from record_access_log
       where student_id = $1 order by occurred_at, id`,
      [studentId],
    );
    return r.rows;
  }

  /** Audit rows for an entity, oldest first. */
  async auditOf(
    entityId: string,
    branch = 'pool',
  ): Promise<{ action: string; before: unknown; after: unknown; actor_user_id: string | null }[]> {
    const db = await this.db(branch);
    const r = await db.query(
      `select action, before, after, actor_user_id::text from audit_log
       where entity_id = $1 order by occurred_at, id`,
      [entityId],
    );
    return r.rows;
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
