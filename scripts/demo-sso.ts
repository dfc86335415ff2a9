import { and, eq, isNull } from 'drizzle-orm';
import { createProvider, updateProvider } from '../api/auth/sso.js';
import type { DbEnv } from '../db/env.js';
import { openNode, tenantBranchOwner } from '../db/platform.js';
import * as tenantSchema from '../db/schema/tenant.js';
import { withTenant } from '../db/tenancy.js';

/**
 * Single sign-on for the demo tenants, when DEMO_OIDC_ISSUER, DEMO_OIDC_CLIENT_ID and
 * DEMO_OIDC_DOMAINS (comma-separated email domains) are set — with DEMO_OIDC_CLIENT_SECRET
 * and DEMO_OIDC_NAME (the button's label) optional. Without them the demo offers none and
 * /login shows no "Sign in with" button. Register
 * `http://<slug>.localhost:<port>/login/sso/callback` at the provider.
 */
export interface DemoSso {
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  domains: string[];
}

export function demoSsoFrom(source: Record<string, string | undefined>): DemoSso | null {
  const issuer = source.DEMO_OIDC_ISSUER?.trim();
  const clientId = source.DEMO_OIDC_CLIENT_ID?.trim();
  const domains = (source.DEMO_OIDC_DOMAINS ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  if (!issuer || !clientId || domains.length === 0) return null;
  return {
    name: source.DEMO_OIDC_NAME?.trim() || 'single sign-on',
    issuer,
    clientId,
    clientSecret: source.DEMO_OIDC_CLIENT_SECRET || null,
    domains,
  };
}

/** Adds (or updates) the demo provider in a demo tenant; users are matched, never created. */
export async function ensureDemoSso(
  env: DbEnv,
  slug: string,
  sso: DemoSso,
  secretKey: string,
): Promise<void> {
  const target = await tenantBranchOwner(env, slug);
  if (!target) return;
  const branch = await openNode(target.ownerUrl, tenantSchema, 1);
  try {
    await withTenant(branch.db, target.tenantId, async (tx) => {
      const p = tenantSchema.ssoProviders;
      const [existing] = await tx
        .select({ id: p.id })
        .from(p)
        .where(and(eq(p.issuer, sso.issuer), isNull(p.deletedAt)));
      const input = {
        kind: 'oidc' as const,
        name: sso.name,
        issuer: sso.issuer,
        clientId: sso.clientId,
        clientSecret: sso.clientSecret,
        allowedDomains: sso.domains,
        autoCreateDomains: [],
        enabled: true,
      };
      if (existing) await updateProvider(tx, existing.id, input, secretKey);
      else await createProvider(tx, target.tenantId, input, secretKey);
    });
  } finally {
    await branch.close();
  }
}
