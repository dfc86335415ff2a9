import { sql } from 'drizzle-orm';
import { bigint, boolean, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import {
  createdAt,
  oneOf,
  rule,
  tenantFk,
  tenantIndex,
  tenantKey,
  tenantPk,
  timestamps,
} from './columns.js';
import { users } from './people.js';

/** Roles that must use a second factor when a tenant has not chosen (docs/tenancy-and-security.md#two-factor-sign-in). */
export const DEFAULT_MFA_REQUIRED_ROLES = ['platform_admin', 'network_admin', 'principal'] as const;

/**
 * A tenant's sign-in policy: at most one live row; without one the defaults apply
 * (second factor required for DEFAULT_MFA_REQUIRED_ROLES).
 */
export const authPolicies = pgTable(
  'auth_policies',
  {
    ...tenantKey,
    mfaRequiredRoles: text('mfa_required_roles')
      .array()
      .notNull()
      .default(sql`'{platform_admin,network_admin,principal}'::text[]`),
    ...timestamps,
  },
  (t) => [
    tenantPk('auth_policies', t),
    uniqueIndex('auth_policies_tenant_key')
      .on(t.tenantId)
      .where(sql`${t.deletedAt} is null`),
  ],
);

/**
 * A user's TOTP authenticator (RFC 6238). The secret is AES-256-GCM encrypted under
 * AUTH_SECRET_KEY; `last_used_step` is the 30-second step of the last accepted code, so a
 * code is never accepted twice. `pending` until the user proves the first code.
 */
export const userTotp = pgTable(
  'user_totp',
  {
    ...tenantKey,
    userId: uuid('user_id').notNull(),
    secretEncrypted: text('secret_encrypted').notNull(),
    status: text('status').notNull().default('pending'),
    confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
    lastUsedStep: bigint('last_used_step', { mode: 'number' }),
    ...timestamps,
  },
  (t) => [
    tenantPk('user_totp', t),
    tenantFk('user_totp_user_fk', t.tenantId, t.userId, users).onDelete('cascade'),
    uniqueIndex('user_totp_user_key')
      .on(t.tenantId, t.userId)
      .where(sql`${t.deletedAt} is null`),
    oneOf('user_totp_status_check', t.status, ['pending', 'active']),
    rule(
      'user_totp_confirmed_check',
      sql`(${t.status} = 'active') = (${t.confirmedAt} is not null)`,
    ),
  ],
);

/** Single-use recovery codes, stored as SHA-256 hashes (each code carries 80 random bits). */
export const mfaRecoveryCodes = pgTable(
  'mfa_recovery_codes',
  {
    ...tenantKey,
    userId: uuid('user_id').notNull(),
    codeHash: text('code_hash').notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    ...createdAt,
  },
  (t) => [
    tenantPk('mfa_recovery_codes', t),
    tenantFk('mfa_recovery_codes_user_fk', t.tenantId, t.userId, users).onDelete('cascade'),
    uniqueIndex('mfa_recovery_codes_hash_key').on(t.tenantId, t.codeHash),
    tenantIndex('mfa_recovery_codes_user_idx', t.tenantId, t.userId),
  ],
);

export const SSO_KINDS = ['google', 'microsoft', 'oidc'] as const;

/**
 * An OpenID Connect issuer a tenant's users may sign in with. The client secret is
 * AES-256-GCM encrypted under AUTH_SECRET_KEY. Users are matched by verified email; only
 * for a domain in `auto_create_domains` may an unknown email become a new user.
 */
export const ssoProviders = pgTable(
  'sso_providers',
  {
    ...tenantKey,
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    issuer: text('issuer').notNull(),
    clientId: text('client_id').notNull(),
    clientSecretEncrypted: text('client_secret_encrypted'),
    allowedDomains: text('allowed_domains')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    autoCreateDomains: text('auto_create_domains')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    enabled: boolean('enabled').notNull().default(true),
    ...timestamps,
  },
  (t) => [
    tenantPk('sso_providers', t),
    oneOf('sso_providers_kind_check', t.kind, SSO_KINDS),
    rule('sso_providers_issuer_check', sql`${t.issuer} ~ '^https?://'`),
    rule('sso_providers_auto_create_check', sql`${t.autoCreateDomains} <@ ${t.allowedDomains}`),
  ],
);

/**
 * One started single sign-on: the state (stored hashed), nonce and PKCE verifier a
 * callback must match, within ten minutes, once.
 */
export const ssoLogins = pgTable(
  'sso_logins',
  {
    ...tenantKey,
    providerId: uuid('provider_id').notNull(),
    stateHash: text('state_hash').notNull(),
    nonce: text('nonce').notNull(),
    codeVerifier: text('code_verifier').notNull(),
    redirectUri: text('redirect_uri').notNull(),
    next: text('next').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    ...createdAt,
  },
  (t) => [
    tenantPk('sso_logins', t),
    tenantFk('sso_logins_provider_fk', t.tenantId, t.providerId, ssoProviders).onDelete('cascade'),
    uniqueIndex('sso_logins_state_key').on(t.tenantId, t.stateHash),
  ],
);
