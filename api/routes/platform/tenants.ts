import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { isTimeZone } from '../../../db/dates.js';
import { createTenant } from '../../../db/tenants/create.js';
import { getTenant, listTenants, type TenantSummary } from '../../../db/tenants/directory.js';
import { setTenantStatus } from '../../../db/tenants/status.js';
import type { AppEnv } from '../../app-env.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import type { VerificationSettings } from '../../../db/domain-verification.js';
import { domainJson, DomainState, settingsOf } from './domains.js';
import { actorOf, platformCall, SlugParam } from './guard.js';

export { SlugParam };

const Tenant = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(['active', 'suspended', 'cancelled']),
    plan: z.string(),
    placement: z.enum(['pool', 'dedicated']),
    branch: z.string().describe('The branch the tenant’s data lives on.'),
    domains: z.array(z.string()),
    domain_details: z.array(DomainState).describe('Each domain and whether it is verified.'),
  })
  .openapi('PlatformTenant');

const CreatedTenant = Tenant.extend({
  admin_user_id: z.uuid(),
  root_org_unit_id: z.uuid(),
}).openapi('PlatformTenantCreated');

const timezone = z.string().min(1).max(64).refine(isTimeZone, 'unknown IANA time zone');

const CreateTenantBody = z
  .strictObject({
    slug: z.string().min(1).max(63).describe('3–40 lower-case letters, digits and hyphens.'),
    name: z.string().min(1).max(200),
    plan: z.string().min(1).max(40).optional().describe('Plan key; default `school`.'),
    placement: z
      .enum(['pool', 'dedicated'])
      .default('pool')
      .describe('The shared pool branch, or a new branch of its own copied from the template.'),
    domains: z
      .array(z.string().min(1).max(253))
      .min(1)
      .max(20)
      .describe('Hostnames; the first is the app domain, the others site domains.'),
    timezone: timezone.optional(),
    admin: z.strictObject({
      email: z.string().min(1).max(254),
      password: z.string().min(1).max(1024),
      name: z.string().min(1).max(200).optional(),
    }),
  })
  .openapi('PlatformTenantCreate');

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const list = createRoute({
  operationId: 'listTenants',
  method: 'get',
  path: '/v1/platform/tenants',
  tags: ['Platform'],
  summary: 'List every tenant',
  responses: {
    200: json(z.object({ data: z.array(Tenant) }), 'Every tenant, by slug'),
    ...problemResponses(401, 403, 404),
  },
});

const create = createRoute({
  operationId: 'createTenant',
  method: 'post',
  path: '/v1/platform/tenants',
  tags: ['Platform'],
  summary: 'Create a tenant',
  description:
    'Places the tenant on the pool or a new dedicated branch, seeds its roles, permissions, funnel stages and grading scale, and creates its first admin. Nothing is left half-created on failure.',
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: CreateTenantBody,
          example: {
            slug: 'sunrise',
            name: 'Sunrise Academies',
            placement: 'pool',
            domains: ['sunrise.example.org'],
            admin: { email: 'admin@sunrise.example.org', password: 'Correct-Horse-42!' },
          },
        },
      },
    },
  },
  responses: {
    201: json(CreatedTenant, 'The tenant, provisioned'),
    ...problemResponses(400, 401, 403, 404, 409, 422, 503),
  },
});

const get = createRoute({
  operationId: 'getTenant',
  method: 'get',
  path: '/v1/platform/tenants/{slug}',
  tags: ['Platform'],
  summary: 'One tenant',
  request: { params: SlugParam },
  responses: { 200: json(Tenant, 'The tenant'), ...problemResponses(400, 401, 403, 404) },
});

const statusRoute = (action: 'suspend' | 'reactivate') =>
  createRoute({
    operationId: `${action}Tenant`,
    method: 'post',
    path: `/v1/platform/tenants/{slug}/${action}`,
    tags: ['Platform'],
    summary: action === 'suspend' ? 'Suspend a tenant' : 'Reactivate a suspended tenant',
    description:
      action === 'suspend'
        ? 'Every host of the tenant answers 403 from now on (within the tenant-cache TTL on other instances).'
        : 'The tenant’s hosts answer again.',
    request: { params: SlugParam },
    responses: { 200: json(Tenant, 'The tenant'), ...problemResponses(400, 401, 403, 404, 422) },
  });

function tenantJson(t: TenantSummary, settings: VerificationSettings): z.infer<typeof Tenant> {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    status: t.status as z.infer<typeof Tenant>['status'],
    plan: t.plan,
    placement: t.placement as z.infer<typeof Tenant>['placement'],
    branch: t.branch,
    domains: t.domains,
    domain_details: t.domainDetails.map((d) => domainJson(settings, t.slug, d)),
  };
}

export function registerTenantRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(list, async (c) => {
    const deps = await c.get('services').platform();
    return c.json(
      {
        data: (await listTenants(deps)).map((t) =>
          tenantJson(t, settingsOf(c.get('services').config)),
        ),
      },
      200,
    );
  });

  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const deps = await services.platform();
    const created = await platformCall(
      () =>
        createTenant(deps, {
          slug: body.slug,
          name: body.name,
          domains: body.domains,
          placement: body.placement,
          ...(body.plan ? { plan: body.plan } : {}),
          ...(body.timezone ? { timezone: body.timezone } : {}),
          adminEmail: body.admin.email,
          adminPassword: body.admin.password,
          ...(body.admin.name ? { adminName: body.admin.name } : {}),
          actor: actorOf(c),
          requestId: c.get('requestId'),
        }),
      {
        invalid_slug: 'body.slug',
        duplicate_slug: 'body.slug',
        invalid_domain: 'body.domains',
        duplicate_domain: 'body.domains',
        invalid_email: 'body.admin.email',
        weak_password: 'body.admin.password',
        unknown_plan: 'body.plan',
      },
    );
    // A negative cache entry for `<slug>.<PLATFORM_DOMAIN>` or a domain must not linger.
    services.forgetTenantHosts();
    const tenant = await getTenant(deps, created.slug);
    c.header('location', `/v1/platform/tenants/${created.slug}`);
    return c.json(
      {
        ...tenantJson(tenant, settingsOf(services.config)),
        admin_user_id: created.adminUserId,
        root_org_unit_id: created.rootOrgUnitId,
      },
      201,
    );
  });

  app.openapi(get, async (c) => {
    const deps = await c.get('services').platform();
    const tenant = await platformCall(() => getTenant(deps, c.req.valid('param').slug));
    return c.json(tenantJson(tenant, settingsOf(c.get('services').config)), 200);
  });

  for (const action of ['suspend', 'reactivate'] as const) {
    app.openapi(statusRoute(action), async (c) => {
      const { slug } = c.req.valid('param');
      const services = c.get('services');
      if (action === 'suspend' && slug === services.config.PLATFORM_TENANT) {
        // It would lock every platform admin out of the platform API.
        throw new ApiError('unprocessable', 'The operator tenant cannot be suspended.');
      }
      const deps = await services.platform();
      await platformCall(() =>
        setTenantStatus(deps, {
          slug,
          status: action === 'suspend' ? 'suspended' : 'active',
          actor: actorOf(c),
          requestId: c.get('requestId'),
        }),
      );
      services.forgetTenantHosts();
      return c.json(tenantJson(await getTenant(deps, slug), settingsOf(services.config)), 200);
    });
  }
}
