import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/connection-node.js';
import { verifyPassword } from '../../db/passwords.js';
import {
  addDomain,
  createTenant,
  listTenants,
  migrateAll,
  setTenantStatus,
} from '../../db/platform.js';
import type { CreateTenantInput } from '../../db/tenants/create.js';
import { PlatformError } from '../../db/tenants/errors.js';
import tenantJournal from '../../db/migrations/tenant/meta/_journal.json' with { type: 'json' };
import * as schema from '../../db/schema/tenant.js';
import { withTenant } from '../../db/tenancy.js';
import { startProofServer } from '../support/domain-proofs.js';
import { linkIn, startSmtpCatcher } from '../support/smtp.js';
import { createTestEnvironment, withAdmin, type TestEnvironment } from '../support/environment.js';

/** The newest tenant migration: every migrated branch records it. */
const LATEST_TENANT_MIGRATION = tenantJournal.entries.at(-1)!.tag;

const run = promisify(execFile);
let t: TestEnvironment;

beforeAll(async () => {
  t = await createTestEnvironment('platform');
});
afterAll(async () => {
  await t?.destroy();
});

const input = (over: Partial<CreateTenantInput> = {}): CreateTenantInput => ({
  slug: 'maple',
  name: 'Maple Learning Network',
  domains: ['maple.example.org'],
  placement: 'pool',
  adminEmail: 'admin@maple.example.org',
  adminPassword: 'Correct-Horse-Battery-9',
  actor: 'test',
  ...over,
});

/** Rows that tenant creation touches in the control plane, and the environment's databases. */
async function footprint() {
  const counts = await withAdmin(async (c) => {
    const r = await c.query(
      `select (select count(*) from tenants)::int as tenants,
              (select count(*) from tenant_domains)::int as domains,
              (select count(*) from branches)::int as branches,
              (select count(*) from subscriptions)::int as subscriptions`,
    );
    return r.rows[0];
  }, t.prefix);
  const pool = await withAdmin(async (c) => {
    const r = await c.query(`select count(*)::int as n from users`);
    return r.rows[0].n as number;
  }, `${t.prefix}_pool`);
  return { ...counts, poolUsers: pool, databases: await t.databases() };
}

async function tenantRows(appUrl: string, tenantId: string) {
  const { db, close } = await createDb({ driver: 'pg', url: appUrl, schema, max: 1 });
  try {
    return await withTenant(db, tenantId, async (tx) => ({
      roles: (await tx.select().from(schema.roles)).map((r) => r.key).sort(),
      permissions: (await tx.select().from(schema.permissions)).length,
      rolePermissions: (await tx.select().from(schema.rolePermissions)).length,
      stages: (
        await tx.select().from(schema.funnelStages).orderBy(schema.funnelStages.position)
      ).map((s) => s.key),
      scales: await tx.select().from(schema.gradingScales),
      users: await tx.select().from(schema.users),
      userRoles: await tx
        .select({ key: schema.roles.key, orgUnitId: schema.userRoles.orgUnitId })
        .from(schema.userRoles)
        .innerJoin(schema.roles, eq(schema.roles.id, schema.userRoles.roleId)),
      orgUnits: await tx.select().from(schema.orgUnits),
      audit: (await tx.select().from(schema.auditLog)).map((r) => r.action),
    }));
  } finally {
    await close();
  }
}

describe('creating a tenant', () => {
  it('on the pool seeds roles, permissions, funnel, grading scale and a working first admin', async () => {
    const created = await createTenant(t.env, input());
    expect(created).toMatchObject({ slug: 'maple', placement: 'pool', branch: 'pool' });
    const rows = await tenantRows(t.appUrl('pool'), created.id);
    expect(rows.roles).toEqual([
      'coach',
      'network_admin',
      'office_admin',
      'parent',
      'platform_admin',
      'principal',
      'student',
      'teacher',
    ]);
    expect(rows.permissions).toBeGreaterThan(30);
    expect(rows.rolePermissions).toBeGreaterThan(100);
    expect(rows.stages).toEqual([
      'inquiry',
      'tour_scheduled',
      'tour_completed',
      'application_started',
      'application_submitted',
      'accepted',
      'enrolled',
      'lost',
    ]);
    expect(rows.scales).toHaveLength(1);
    expect(rows.users).toHaveLength(1);
    expect(rows.users[0]!.email).toBe('admin@maple.example.org');
    expect(await verifyPassword('Correct-Horse-Battery-9', rows.users[0]!.passwordHash!)).toBe(
      true,
    );
    expect(rows.users[0]!.passwordHash).toMatch(/^scrypt\$17\$8\$1\$/);
    expect(rows.userRoles).toEqual([{ key: 'network_admin', orgUnitId: null }]);
    expect(rows.orgUnits.map((o) => [o.kind, o.name])).toEqual([
      ['network', 'Maple Learning Network'],
    ]);
    expect(rows.audit).toEqual(['tenant.provisioned']);

    const [tenant] = await withAdmin(
      (c) =>
        c
          .query(`select status, plan_key from tenants where id = $1`, [created.id])
          .then((r) => r.rows),
      t.prefix,
    );
    expect(tenant).toEqual({ status: 'active', plan_key: 'school' });
  });

  it('on a dedicated branch creates the branch from the template, migrated and recorded', async () => {
    const created = await createTenant(
      t.env,
      input({
        slug: 'oak-hill',
        name: 'Oak Hill School',
        domains: ['oakhill.example.org', 'www.oakhill.example.org'],
        placement: 'dedicated',
        adminEmail: 'head@oakhill.example.org',
      }),
    );
    expect(created).toMatchObject({ placement: 'dedicated', branch: 't-oak-hill' });
    expect(await t.databases()).toContain(`${t.prefix}_t_oak_hill`);
    const rows = await tenantRows(t.appUrl('t_oak_hill'), created.id);
    expect(rows.users.map((u) => u.email)).toEqual(['head@oakhill.example.org']);
    expect(rows.roles).toHaveLength(8);

    const branch = await withAdmin(
      (c) =>
        c
          .query(
            `select kind, provider, status, schema_version, connection_secret from branches where name = 't-oak-hill'`,
          )
          .then((r) => r.rows[0]),
      t.prefix,
    );
    expect(branch).toMatchObject({
      kind: 'dedicated',
      provider: 'local',
      status: 'ready',
      schema_version: LATEST_TENANT_MIGRATION,
    });
    // The connection secret is stored encrypted, never as a plain URI.
    expect(branch.connection_secret).toMatch(/^v1\./);
    expect(branch.connection_secret).not.toContain('postgres');
    // The large, often rewritten columns are compressed with lz4 (this server has it).
    const compression = await withAdmin(
      (c) =>
        c
          .query<{ attname: string; attcompression: string }>(
            `select attname, attcompression from pg_attribute
              where (attrelid, attname) in (('metric_snapshots'::regclass, 'payload'),
                                            ('dashboard_pages'::regclass, 'html'))
              order by attname`,
          )
          .then((r) => r.rows),
      `${t.prefix}_t_oak_hill`,
    );
    expect(compression).toEqual([
      { attname: 'html', attcompression: 'l' },
      { attname: 'payload', attcompression: 'l' },
    ]);
  });

  it.each([
    ['a duplicate slug', { slug: 'maple', domains: ['other.example.org'] }, 'duplicate_slug'],
    ['a duplicate domain', { slug: 'birch', domains: ['MAPLE.example.org'] }, 'duplicate_domain'],
    [
      'a duplicate domain on a dedicated branch',
      { slug: 'birch', domains: ['oakhill.example.org'], placement: 'dedicated' as const },
      'duplicate_domain',
    ],
    ['a bad slug', { slug: 'Bad_Slug', domains: ['bad.example.org'] }, 'invalid_slug'],
    ['a reserved slug', { slug: 'admin', domains: ['bad.example.org'] }, 'invalid_slug'],
    [
      'a weak password',
      { slug: 'birch', domains: ['birch.example.org'], adminPassword: 'password123' },
      'weak_password',
    ],
    ['a bad domain', { slug: 'birch', domains: ['https://birch.example.org/'] }, 'invalid_domain'],
    [
      'a bad email',
      { slug: 'birch', domains: ['birch.example.org'], adminEmail: 'not-an-email' },
      'invalid_email',
    ],
    [
      'an unknown plan',
      { slug: 'birch', domains: ['birch.example.org'], plan: 'platinum' },
      'unknown_plan',
    ],
  ])('refuses %s with a clear error and creates nothing', async (_, over, code) => {
    const before = await footprint();
    const err = await createTenant(t.env, input(over)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).code).toBe(code);
    expect((err as PlatformError).message).not.toMatch(/\n/);
    expect(await footprint()).toEqual(before);
  });

  it('rolls back everything, including a dedicated branch, when seeding the branch fails', async () => {
    const before = await footprint();
    // Make this environment's branches refuse the seeding step: a trigger in the template
    // (copied into the new dedicated branch) rejects the first admin. Roles are shared by
    // the whole cluster, so the failure must not be injected there.
    const template = `${t.prefix}_template`;
    await withAdmin(async (c) => {
      await c.query(`create function refuse_seed() returns trigger language plpgsql as
        $$ begin raise exception 'seeding refused for the test'; end $$`);
      await c.query(`create trigger refuse_seed before insert on users
        for each row execute function refuse_seed()`);
    }, template);
    try {
      const err = await createTenant(
        t.env,
        input({ slug: 'cedar', domains: ['cedar.example.org'], placement: 'dedicated' }),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(
        String((err as Error).message) + String((err as { cause?: Error }).cause?.message),
      ).toMatch(/seeding refused/);
    } finally {
      await withAdmin(async (c) => {
        await c.query(`drop trigger refuse_seed on users`);
        await c.query(`drop function refuse_seed()`);
      }, template);
    }
    expect(await footprint()).toEqual(before);
  });
});

describe('domains and status', () => {
  it('adds a normalised domain, refuses a taken one, and suspends and reactivates', async () => {
    await addDomain(t.env, { slug: 'maple', hostname: 'Apply.Maple.example.org.', actor: 'test' });
    await expect(
      addDomain(t.env, { slug: 'maple', hostname: 'oakhill.example.org', actor: 'test' }),
    ).rejects.toMatchObject({ code: 'duplicate_domain' });
    await expect(
      addDomain(t.env, { slug: 'nope', hostname: 'x.example.org', actor: 'test' }),
    ).rejects.toMatchObject({ code: 'tenant_not_found' });
    await setTenantStatus(t.env, { slug: 'maple', status: 'suspended', actor: 'test' });
    let maple = (await listTenants(t.env)).find((x) => x.slug === 'maple');
    expect(maple).toMatchObject({
      status: 'suspended',
      domains: ['apply.maple.example.org', 'maple.example.org'],
    });
    await setTenantStatus(t.env, { slug: 'maple', status: 'active', actor: 'test' });
    maple = (await listTenants(t.env)).find((x) => x.slug === 'maple');
    expect(maple?.status).toBe('active');
    const actions = await withAdmin(
      (c) =>
        c
          .query(`select action from platform_audit_log order by id`)
          .then((r) => r.rows.map((x) => x.action)),
      t.prefix,
    );
    expect(actions).toEqual([
      'tenant.create',
      'tenant.create',
      'tenant.add_domain',
      'tenant.suspend',
      'tenant.reactivate',
    ]);
  });
});

describe('migrating', () => {
  it('a second time applies nothing and changes no schema', async () => {
    const fingerprint = () =>
      Promise.all(
        ['', 'template', 'pool', 't_oak_hill'].map((db) =>
          withAdmin(
            (c) =>
              c
                .query(
                  `select md5(string_agg(x, ',' order by x)) as h from (
                     select c.relname || ':' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) as x
                       from pg_attribute a join pg_class c on c.oid = a.attrelid
                       join pg_namespace n on n.oid = c.relnamespace
                      where n.nspname = 'public' and a.attnum > 0
                     union all select conname || ':' || pg_get_constraintdef(oid) from pg_constraint
                     union all select polname || ':' || polrelid::regclass::text from pg_policy
                     union all select tgname || ':' || tgrelid::regclass::text from pg_trigger where not tgisinternal
                     union all select (select count(*) from drizzle.__drizzle_migrations)::text) s`,
                )
                .then((r) => r.rows[0].h as string),
            db ? `${t.prefix}_${db}` : t.prefix,
          ),
        ),
      );
    const before = await fingerprint();
    const report = await migrateAll(t.env);
    expect(report.map((r) => [r.kind, r.applied])).toEqual([
      ['control', 0],
      ['template', 0],
      ['dedicated', 0],
      ['pool', 0],
    ]);
    expect(new Set(report.filter((r) => r.kind !== 'control').map((r) => r.schemaVersion))).toEqual(
      new Set([LATEST_TENANT_MIGRATION]),
    );
    expect(await fingerprint()).toEqual(before);
  });
});

describe('the tenant CLI', () => {
  /** The CLI with extra environment and, optionally, text piped to its stdin. */
  const cliWith = (env: Record<string, string>, stdin: string | null, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('npx', ['tsx', 'scripts/tenant.ts', ...args], {
        env: { ...process.env, DATABASE_URL: t.env.DATABASE_URL, ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(stdin ?? '');
    });
  const cli = (...args: string[]) =>
    run('npx', ['tsx', 'scripts/tenant.ts', ...args], {
      env: { ...process.env, DATABASE_URL: t.env.DATABASE_URL },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );
  const errors = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error:'));

  it('creates, lists and refuses duplicates with one line and a non-zero exit', async () => {
    const ok = await cli(
      'create',
      '--slug',
      'willow',
      '--name',
      'Willow School',
      '--domain',
      'willow.example.org',
      '--admin-email',
      'a@willow.example.org',
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/created tenant willow/);
    // No password on the command line: the admin is invited; without SMTP the link is printed.
    expect(ok.stdout).toMatch(
      /give a@willow\.example\.org this invitation link .*\nhttps:\/\/willow\.example\.org\/invitations\/accept\?token=[0-9a-f]{64}$/m,
    );
    const dup = await cli(
      'create',
      '--slug',
      'willow',
      '--name',
      'Willow',
      '--domain',
      'w2.example.org',
      '--admin-email',
      'a@w2.example.org',
    );
    expect(dup.code).toBe(1);
    expect(errors(dup.stderr)).toEqual(['error: slug "willow" is already taken']);
    const missing = await cli('create', '--slug', 'x1x');
    expect(missing.code).toBe(1);
    expect(errors(missing.stderr)[0]).toMatch(/--name is required/);
    const list = await cli('list');
    expect(list.stdout).toMatch(
      /^willow\tactive\tschool\tpool:pool\twillow\.example\.org\tWillow School$/m,
    );
  });

  it('adds a domain unverified with the token to publish, verifies it, and lists which are verified', async () => {
    const proofs = await startProofServer();
    const env = { DNS_RESOLVER_URL: proofs.resolverUrl, DOMAIN_VERIFY_FILE_URL: proofs.fileUrl };
    const withProofs = (...args: string[]) =>
      run('npx', ['tsx', 'scripts/tenant.ts', ...args], {
        env: { ...process.env, DATABASE_URL: t.env.DATABASE_URL, ...env },
      }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    try {
      const added = await withProofs(
        'add-domain',
        '--slug',
        'maple',
        '--domain',
        'cli.maple.example.org',
      );
      expect(added.code, added.stderr).toBe(0);
      const token = /TXT record\s+_homeroom-verify\.cli\.maple\.example\.org\s+"([^"]+)"/.exec(
        added.stdout,
      )?.[1];
      expect(token, added.stdout).toMatch(/^homeroom-verify-/);
      expect((await withProofs('list')).stdout).toMatch(/cli\.maple\.example\.org \(unverified\)/);
      const early = await withProofs(
        'verify-domain',
        '--slug',
        'maple',
        '--domain',
        'cli.maple.example.org',
      );
      expect(early.code).toBe(1);
      expect(errors(early.stderr)[0]).toMatch(/not verified yet/);
      proofs.txt.set('_homeroom-verify.cli.maple.example.org', [token!]);
      const ok = await withProofs(
        'verify-domain',
        '--slug',
        'maple',
        '--domain',
        'cli.maple.example.org',
      );
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/verified cli\.maple\.example\.org \(DNS TXT record\)/);
      const list = await withProofs('list');
      expect(list.stdout).toMatch(/[\t,]cli\.maple\.example\.org[\t,]/);
      expect(list.stdout).not.toMatch(/cli\.maple\.example\.org \(unverified\)/);
      // The operator may vouch for a domain instead.
      const vouched = await withProofs(
        'add-domain',
        '--slug',
        'maple',
        '--domain',
        'vouched.maple.example.org',
        '--verified',
      );
      expect(vouched.code, vouched.stderr).toBe(0);
      expect(vouched.stdout).not.toMatch(/TXT/);
      const [row] = await withAdmin(
        (c) =>
          c
            .query(
              `select verified_at from tenant_domains where hostname = 'vouched.maple.example.org'`,
            )
            .then((r) => r.rows),
        t.prefix,
      );
      expect(row.verified_at).toBeInstanceOf(Date);
    } finally {
      await proofs.close();
    }
  });

  it('create takes the first admin password from stdin or HOMEROOM_ADMIN_PASSWORD, never from the command line', async () => {
    const refused = await cliWith(
      {},
      null,
      'create',
      '--slug',
      'aspen',
      '--name',
      'Aspen',
      '--domain',
      'aspen.example.org',
      '--admin-email',
      'a@aspen.example.org',
      '--admin-password',
      'Correct-Horse-Battery-9',
    );
    expect(refused.code).toBe(1);
    expect(errors(refused.stderr)[0]).toMatch(
      /--admin-password is not accepted .*--admin-password-stdin/,
    );

    const piped = await cliWith(
      {},
      'Correct-Horse-Battery-9\n',
      'create',
      '--slug',
      'aspen',
      '--name',
      'Aspen',
      '--domain',
      'aspen.example.org',
      '--admin-email',
      'a@aspen.example.org',
      '--admin-password-stdin',
    );
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).not.toMatch(/invitation/);
    const fromEnv = await cliWith(
      { HOMEROOM_ADMIN_PASSWORD: 'Correct-Horse-Battery-9' },
      null,
      'create',
      '--slug',
      'cedar',
      '--name',
      'Cedar',
      '--domain',
      'cedar.example.org',
      '--admin-email',
      'a@cedar.example.org',
    );
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    for (const email of ['a@aspen.example.org', 'a@cedar.example.org']) {
      const [admin] = await withAdmin(
        (c) =>
          c
            .query(`select status, password_hash from users where email = $1`, [email])
            .then((r) => r.rows),
        `${t.prefix}_pool`,
      );
      expect(admin.status).toBe('active');
      expect(await verifyPassword('Correct-Horse-Battery-9', admin.password_hash)).toBe(true);
    }
  }, 120_000);

  it('create mails the first admin an invitation when SMTP_URL is set', async () => {
    const smtp = await startSmtpCatcher();
    try {
      const r = await cliWith(
        { SMTP_URL: smtp.url, MAIL_FROM: 'ops@homeroom.example.org' },
        null,
        'create',
        '--slug',
        'dogwood',
        '--name',
        'Dogwood Prep',
        '--domain',
        'dogwood.example.org',
        '--admin-email',
        'head@dogwood.example.org',
        '--admin-name',
        'Dana Head',
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/invitation mailed to head@dogwood\.example\.org/);
      expect(r.stdout).not.toMatch(/token=/);
      const mail = await smtp.waitFor((m) => m.envelopeTo.includes('head@dogwood.example.org'));
      expect(mail.parsed.subject).toBe('You are invited to Dogwood Prep on Homeroom');
      expect(mail.parsed.text).toContain('Hello Dana,');
      expect(linkIn(mail, '/invitations/accept?token=')).toMatch(
        /^https:\/\/dogwood\.example\.org\//,
      );
      const [admin] = await withAdmin(
        (c) =>
          c
            .query(
              `select status, password_hash from users where email = 'head@dogwood.example.org'`,
            )
            .then((x) => x.rows),
        `${t.prefix}_pool`,
      );
      expect(admin).toEqual({ status: 'invited', password_hash: null });
    } finally {
      await smtp.close();
    }
  }, 120_000);

  it('creates the operator tenant with --platform-admin; its slug is reserved otherwise', async () => {
    const create = (...extra: string[]) =>
      cli(
        'create',
        '--slug',
        'homeroom',
        '--name',
        'Homeroom Operations',
        '--domain',
        'ops.homeroom.example.org',
        '--admin-email',
        'ops@homeroom.example.org',
        ...extra,
      );
    const refused = await create();
    expect(refused.code).toBe(1);
    expect(errors(refused.stderr)).toEqual(['error: slug "homeroom" is reserved']);
    const ok = await create('--platform-admin');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/created tenant homeroom .*\(platform admin\)$/m);
    const roles = await withAdmin(
      (c) =>
        c
          .query(
            `select r.key from user_roles ur join roles r on r.id = ur.role_id
              join users u on u.id = ur.user_id
             where u.email = 'ops@homeroom.example.org' and ur.org_unit_id is null order by 1`,
          )
          .then((r) => r.rows.map((x) => x.key)),
      `${t.prefix}_pool`,
    );
    expect(roles).toEqual(['network_admin', 'platform_admin']);
  });
});
