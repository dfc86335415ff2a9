import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.js';

/**
 * The control plane: one database that knows every tenant, where its data lives and how it
 * may be reached. Not tenant data, so no row-level security: only the platform reads it.
 */

export const TENANT_STATUSES = ['active', 'suspended', 'cancelled'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];
export const BRANCH_STATUSES = ['provisioning', 'ready', 'failed', 'retired'] as const;

const list = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));

export const plans = pgTable(
  'plans',
  {
    key: text('key').primaryKey(),
    name: text('name').notNull(),
    maxStudents: integer('max_students').notNull(),
    maxStaff: integer('max_staff').notNull(),
    features: jsonb('features').$type<Record<string, boolean>>().notNull().default({}),
    priceCents: integer('price_cents').notNull().default(0),
    ...timestamps,
  },
  (t) => [
    check('plans_limits_check', sql`${t.maxStudents} > 0 and ${t.maxStaff} > 0`),
    check('plans_key_check', sql`${t.key} ~ '^[a-z][a-z0-9_]*$'`),
  ],
);

/** A Postgres branch holding tenant data: the shared pool or one tenant's own branch. */
export const branches = pgTable(
  'branches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    provider: text('provider').notNull(),
    databaseName: text('database_name').notNull(),
    /** App-role connection URI, AES-256-GCM encrypted (db/secrets.ts); never stored plain. */
    connectionSecret: text('connection_secret').notNull(),
    neonProjectId: text('neon_project_id'),
    neonBranchId: text('neon_branch_id'),
    neonEndpointId: text('neon_endpoint_id'),
    /** Tag of the last migration applied, written by `npm run db:migrate`. */
    schemaVersion: text('schema_version'),
    migratedAt: timestamp('migrated_at', { withTimezone: true }),
    status: text('status').notNull().default('provisioning'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('branches_name_key').on(t.name),
    check('branches_kind_check', sql`${t.kind} in ('pool', 'dedicated')`),
    check('branches_provider_check', sql`${t.provider} in ('local', 'neon')`),
    check('branches_status_check', sql`${t.status} in (${list(BRANCH_STATUSES)})`),
    check(
      'branches_neon_check',
      sql`${t.provider} <> 'neon' or (${t.neonProjectId} is not null and ${t.neonBranchId} is not null)`,
    ),
  ],
);

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    status: text('status').notNull().default('active'),
    planKey: text('plan_key')
      .notNull()
      .references(() => plans.key),
    branchId: uuid('branch_id')
      .notNull()
      .references(() => branches.id),
    maxStudents: integer('max_students'),
    maxStaff: integer('max_staff'),
    features: jsonb('features').$type<Record<string, boolean>>().notNull().default({}),
    timezone: text('timezone').notNull().default('America/New_York'),
    locale: text('locale').notNull().default('en-US'),
    branding: jsonb('branding')
      .$type<{
        logoUrl?: string;
        primaryColor?: string;
        secondaryColor?: string;
        mailFromName?: string;
        mailReplyTo?: string;
      }>()
      .notNull()
      .default({}),
    suspendedAt: timestamp('suspended_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('tenants_slug_key').on(t.slug),
    check('tenants_slug_check', sql`${t.slug} ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'`),
    check('tenants_status_check', sql`${t.status} in (${list(TENANT_STATUSES)})`),
    check(
      'tenants_limits_check',
      sql`(${t.maxStudents} is null or ${t.maxStudents} > 0) and (${t.maxStaff} is null or ${t.maxStaff} > 0)`,
    ),
  ],
);

/** Hostnames that resolve to a tenant; a school's own site also binds that school. */
export const tenantDomains = pgTable(
  'tenant_domains',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    hostname: text('hostname').notNull(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** Org unit (school) in the tenant's branch; not a foreign key: it lives in another database. */
    orgUnitId: uuid('org_unit_id'),
    purpose: text('purpose').notNull().default('site'),
    /**
     * Until this is set the domain neither resolves to the tenant nor counts as its site
     * (CORS, form redirects, framing): proof of control (see db/domain-verification.ts), or
     * the operator vouching for it at tenant creation.
     */
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    /** What the domain's owner publishes to prove control; null once verified or vouched for. */
    verificationToken: text('verification_token'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('tenant_domains_hostname_key').on(t.hostname),
    uniqueIndex('tenant_domains_tenant_idx').on(t.tenantId, t.hostname),
    check('tenant_domains_purpose_check', sql`${t.purpose} in ('site', 'app')`),
    // Lower-case, no port, no scheme, at least one dot or `localhost` style single label.
    check(
      'tenant_domains_hostname_check',
      sql`${t.hostname} ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$'`,
    ),
  ],
);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    planKey: text('plan_key')
      .notNull()
      .references(() => plans.key),
    status: text('status').notNull().default('active'),
    startsOn: date('starts_on').notNull(),
    endsOn: date('ends_on'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('subscriptions_active_key')
      .on(t.tenantId)
      .where(sql`${t.status} = 'active' and ${t.deletedAt} is null`),
    check('subscriptions_status_check', sql`${t.status} in ('active', 'past_due', 'cancelled')`),
    check('subscriptions_dates_check', sql`${t.endsOn} is null or ${t.endsOn} >= ${t.startsOn}`),
  ],
);

/** Daily counters per tenant and kind of call (`public`, `api`, `write`, …). */
export const apiUsage = pgTable(
  'api_usage',
  {
    tenantId: uuid('tenant_id').notNull(),
    day: date('day').notNull(),
    kind: text('kind').notNull(),
    count: integer('count').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'api_usage_pkey', columns: [t.tenantId, t.day, t.kind] }),
    foreignKey({
      name: 'api_usage_tenant_fk',
      columns: [t.tenantId],
      foreignColumns: [tenants.id],
    }),
    check('api_usage_count_check', sql`${t.count} >= 0`),
  ],
);

/** Append-only record of platform actions (tenant created, suspended, domain added, …). */
export const platformAuditLog = pgTable(
  'platform_audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    tenantId: uuid('tenant_id'),
    entityType: text('entity_type').notNull(),
    entityId: text('entity_id'),
    before: jsonb('before'),
    after: jsonb('after'),
    requestId: text('request_id'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('platform_audit_log_tenant_idx').on(t.tenantId, t.occurredAt)],
);
