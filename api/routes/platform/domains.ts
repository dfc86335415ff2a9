import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { fileUrlsOf, txtName, type VerificationSettings } from '../../../db/domain-verification.js';
import { getTenant, type DomainDetail } from '../../../db/tenants/directory.js';
import { addDomain, verifyDomain } from '../../../db/tenants/domains.js';
import type { AppEnv } from '../../app-env.js';
import type { ApiConfig } from '../../env.js';
import { problemResponses } from '../openapi.js';
import { actorOf, platformCall, SlugParam } from './guard.js';

/**
 * A tenant's own domains. One added here starts unverified: it neither resolves to the
 * tenant nor counts as its site (CORS, form redirects, framing) until its owner publishes
 * the token (DNS TXT or a file on the site) and `…/verify` finds it. Domains named when the
 * tenant is created are vouched for by the operator and verified from the start.
 */

const Verification = z
  .object({
    token: z.string(),
    txt_name: z.string().describe('Publish a TXT record with this name and the token as value…'),
    file_urls: z.array(z.string()).describe('…or serve the token as the body of one of these.'),
  })
  .openapi('PlatformDomainVerification');

export const DomainState = z
  .object({
    hostname: z.string(),
    school_id: z.uuid().nullable(),
    purpose: z.enum(['site', 'app']),
    verified_at: z.string().nullable().describe('When control was proven; null: not serving.'),
    verification: Verification.nullable().describe('How to prove control; null once verified.'),
    verify_url: z.string().nullable(),
  })
  .openapi('PlatformDomainState');

/** Where this deployment looks for proofs (DNS_RESOLVER_URL, DOMAIN_VERIFY_FILE_URL). */
export const settingsOf = (config: ApiConfig): VerificationSettings => ({
  resolverUrl: config.db.DNS_RESOLVER_URL,
  fileUrls: config.db.DOMAIN_VERIFY_FILE_URL,
});

/** The API shape of a domain, with what to publish while it is unverified. */
export function domainJson(
  settings: VerificationSettings,
  slug: string,
  d: DomainDetail,
): z.infer<typeof DomainState> {
  const token = d.verifiedAt ? null : d.verificationToken;
  return {
    hostname: d.hostname,
    school_id: d.orgUnitId,
    purpose: d.purpose as 'site' | 'app',
    verified_at: d.verifiedAt,
    verification: token
      ? { token, txt_name: txtName(d.hostname), file_urls: fileUrlsOf(settings, d.hostname) }
      : null,
    verify_url: token ? `/v1/platform/tenants/${slug}/domains/${d.hostname}/verify` : null,
  };
}

const AddDomainBody = z
  .strictObject({
    hostname: z.string().min(1).max(253),
    school_id: z
      .uuid()
      .optional()
      .describe('A school of the tenant: the domain becomes that school’s own site.'),
    purpose: z.enum(['site', 'app']).default('site'),
  })
  .openapi('PlatformDomainCreate');

const AddedDomain = DomainState.extend({ tenant_id: z.uuid() }).openapi('PlatformDomain');

const add = createRoute({
  method: 'post',
  path: '/v1/platform/tenants/{slug}/domains',
  operationId: 'addTenantDomain',
  tags: ['Platform'],
  summary: 'Add a domain to a tenant (unverified until proven)',
  request: {
    params: SlugParam,
    body: { required: true, content: { 'application/json': { schema: AddDomainBody } } },
  },
  responses: {
    201: {
      description: 'The domain, with the token to publish; it serves once verified',
      content: { 'application/json': { schema: AddedDomain } },
    },
    ...problemResponses(400, 401, 403, 404, 409, 422),
  },
});

const HostnameParam = SlugParam.extend({
  hostname: z
    .string()
    .min(1)
    .max(253)
    .openapi({ param: { name: 'hostname', in: 'path' }, example: 'www.maple.example.org' }),
});

const verify = createRoute({
  method: 'post',
  path: '/v1/platform/tenants/{slug}/domains/{hostname}/verify',
  operationId: 'verifyTenantDomain',
  tags: ['Platform'],
  summary: 'Verify a domain: look for its token in DNS or on the site',
  description:
    'Looks up the TXT record `_homeroom-verify.<hostname>` through the configured DNS-over-HTTPS resolver, then the proof file on the site. Found: the domain is verified and serves the tenant from now on. Already verified: answers as it is.',
  request: { params: HostnameParam },
  responses: {
    200: {
      description: 'Verified',
      content: {
        'application/json': {
          schema: DomainState.extend({ method: z.enum(['dns', 'http']).nullable() }),
        },
      },
    },
    ...problemResponses(400, 401, 403, 404, 422),
  },
});

export function registerDomainRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(add, async (c) => {
    const { slug } = c.req.valid('param');
    const body = c.req.valid('json');
    const services = c.get('services');
    const added = await platformCall(
      async () =>
        addDomain(await services.platform(), {
          slug,
          hostname: body.hostname,
          ...(body.school_id ? { orgUnitId: body.school_id } : {}),
          purpose: body.purpose,
          actor: actorOf(c),
          requestId: c.get('requestId'),
        }),
      {
        invalid_domain: 'body.hostname',
        duplicate_domain: 'body.hostname',
        invalid_input: 'body.school_id',
      },
    );
    services.forgetTenantHosts();
    const state = domainJson(settingsOf(services.config), slug, {
      hostname: added.hostname,
      purpose: added.purpose,
      orgUnitId: added.orgUnitId,
      verifiedAt: added.verifiedAt?.toISOString() ?? null,
      verificationToken: added.verificationToken,
    });
    return c.json({ ...state, tenant_id: added.tenantId }, 201);
  });

  app.openapi(verify, async (c) => {
    const { slug, hostname } = c.req.valid('param');
    const services = c.get('services');
    const settings = settingsOf(services.config);
    const deps = await services.platform();
    const verified = await platformCall(
      async () =>
        verifyDomain(deps, settings, {
          slug,
          hostname,
          actor: actorOf(c),
          requestId: c.get('requestId'),
        }),
      { invalid_domain: 'path.hostname' },
    );
    // The domain starts serving now, here; on other instances within the tenant-cache TTL.
    services.forgetTenantHosts();
    const tenant = await getTenant(deps, slug);
    const detail = tenant.domainDetails.find((d) => d.hostname === verified.hostname)!;
    return c.json({ ...domainJson(settings, slug, detail), method: verified.method }, 200);
  });
}
