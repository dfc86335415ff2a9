import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { SSO_KINDS } from '../../../db/schema/auth.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { authenticate, requirePermission } from '../../auth/middleware.js';
import {
  createProvider,
  deleteProvider,
  getProvider,
  listProviders,
  updateProvider,
  viewOf,
  WELL_KNOWN_ISSUERS,
} from '../../auth/sso.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';

/**
 * The tenant's single sign-on providers (docs/tenancy-and-security.md#single-sign-on):
 * tenant administrators only (`roles.write`). The client secret is write-only.
 */

const DOMAIN = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/, 'a domain');

/** https only, except on the loopback interface (a provider run on the same machine). */
const ISSUER = z
  .url()
  .max(2048)
  .refine((v) => {
    const u = new URL(v);
    if (u.search || u.hash || u.username || u.password) return false;
    return (
      u.protocol === 'https:' ||
      (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
    );
  }, 'an https URL without query or fragment');

const ProviderFields = {
  kind: z.enum(SSO_KINDS),
  name: z.string().trim().min(1).max(80).describe('Shown on the button: "Sign in with <name>".'),
  issuer: ISSUER.optional().describe(
    'The OpenID issuer. Optional for `google` (https://accounts.google.com); for `microsoft` https://login.microsoftonline.com/<directory id>/v2.0.',
  ),
  client_id: z.string().trim().min(1).max(512),
  client_secret: z
    .string()
    .min(1)
    .max(2048)
    .nullable()
    .optional()
    .describe('Write-only; stored encrypted. null removes it (public clients rely on PKCE).'),
  allowed_domains: z
    .array(DOMAIN)
    .min(1)
    .max(50)
    .describe('Email domains that may sign in with this provider.'),
  auto_create_domains: z
    .array(DOMAIN)
    .max(50)
    .default([])
    .describe(
      'Of the allowed domains, those whose unknown emails become new users (with no roles).',
    ),
  enabled: z.boolean().default(true),
};

const ProviderCreate = z.object(ProviderFields).openapi('SsoProviderCreate', {
  example: {
    kind: 'google',
    name: 'Google',
    client_id: '1234567890-abc.apps.googleusercontent.com',
    client_secret: 'GOCSPX-…',
    allowed_domains: ['school.example'],
    auto_create_domains: [],
    enabled: true,
  },
});
const ProviderUpdate = z
  .object({
    name: ProviderFields.name.optional(),
    issuer: ISSUER.optional(),
    client_id: ProviderFields.client_id.optional(),
    client_secret: ProviderFields.client_secret,
    allowed_domains: ProviderFields.allowed_domains.optional(),
    auto_create_domains: z.array(DOMAIN).max(50).optional(),
    enabled: z.boolean().optional(),
  })
  .openapi('SsoProviderUpdate', { example: { enabled: false } });

const Provider = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    name: z.string(),
    issuer: z.string(),
    client_id: z.string(),
    has_client_secret: z.boolean(),
    allowed_domains: z.array(z.string()),
    auto_create_domains: z.array(z.string()),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('SsoProvider');

const guard = [authenticate(), requirePermission('roles.write')] as const;
const IdParam = z.object({ id: z.uuid() });

const listRoute = createRoute({
  operationId: 'listSsoProviders',
  method: 'get',
  path: '/v1/sso-providers',
  tags: ['Auth'],
  summary: 'Single sign-on providers of the tenant',
  middleware: [...guard],
  responses: {
    200: {
      description: 'Providers',
      content: { 'application/json': { schema: z.object({ data: z.array(Provider) }) } },
    },
    ...problemResponses(401, 403, 404),
  },
});

const createProviderRoute = createRoute({
  operationId: 'createSsoProvider',
  method: 'post',
  path: '/v1/sso-providers',
  tags: ['Auth'],
  summary: 'Add a single sign-on provider',
  description:
    'Google Workspace, Microsoft Entra ID or any OpenID Connect issuer. Register `https://<your host>/login/sso/callback` as the redirect URI at the provider.',
  middleware: [...guard],
  request: {
    body: { required: true, content: { 'application/json': { schema: ProviderCreate } } },
  },
  responses: {
    201: { description: 'Added', content: { 'application/json': { schema: Provider } } },
    ...problemResponses(400, 401, 403, 404, 413, 422),
  },
});

const updateRoute = createRoute({
  operationId: 'updateSsoProvider',
  method: 'patch',
  path: '/v1/sso-providers/{id}',
  tags: ['Auth'],
  summary: 'Change a single sign-on provider',
  middleware: [...guard],
  request: {
    params: IdParam,
    body: { required: true, content: { 'application/json': { schema: ProviderUpdate } } },
  },
  responses: {
    200: { description: 'Changed', content: { 'application/json': { schema: Provider } } },
    ...problemResponses(400, 401, 403, 404, 413, 422),
  },
});

const deleteRoute = createRoute({
  operationId: 'deleteSsoProvider',
  method: 'delete',
  path: '/v1/sso-providers/{id}',
  tags: ['Auth'],
  summary: 'Remove a single sign-on provider',
  middleware: [...guard],
  request: { params: IdParam },
  responses: {
    204: { description: 'Removed' },
    ...problemResponses(400, 401, 403, 404),
  },
});

function checkDomains(allowed: string[], autoCreate: string[]) {
  const outside = autoCreate.filter((d) => !allowed.includes(d));
  if (outside.length) {
    throw new ApiError('unprocessable', 'See invalid_params for what to fix.', {
      invalidParams: outside.map((d) => ({
        name: 'json.auto_create_domains',
        reason: `${d} is not among allowed_domains`,
      })),
    });
  }
}

export function registerSsoRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const rows = await listProviders(c.get('tx'));
    return c.json({ data: rows.map(viewOf) }, 200);
  });

  app.openapi(createProviderRoute, async (c) => {
    const body = c.req.valid('json');
    const issuer = body.issuer ?? (body.kind === 'google' ? WELL_KNOWN_ISSUERS.google : null);
    if (!issuer) {
      throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
        invalidParams: [{ name: 'json.issuer', reason: `required for ${body.kind}` }],
      });
    }
    const allowed = [...new Set(body.allowed_domains)];
    const autoCreate = [...new Set(body.auto_create_domains)];
    checkDomains(allowed, autoCreate);
    const row = await createProvider(
      c.get('tx'),
      c.get('tenant').id,
      {
        kind: body.kind,
        name: body.name,
        issuer,
        clientId: body.client_id,
        clientSecret: body.client_secret ?? null,
        allowedDomains: allowed,
        autoCreateDomains: autoCreate,
        enabled: body.enabled,
      },
      c.get('services').config.authSecretKey,
    );
    const view = viewOf(row);
    await audit(c, {
      action: 'sso_provider.create',
      entityType: 'sso_provider',
      entityId: row.id,
      after: view,
    });
    return c.json(view, 201);
  });

  app.openapi(updateRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const tx = c.get('tx');
    const before = await getProvider(tx, id);
    if (!before) throw new ApiError('not_found', 'No such provider.');
    const allowed = body.allowed_domains
      ? [...new Set(body.allowed_domains)]
      : before.allowedDomains;
    const autoCreate = body.auto_create_domains
      ? [...new Set(body.auto_create_domains)]
      : before.autoCreateDomains.filter((d) => allowed.includes(d));
    checkDomains(allowed, autoCreate);
    const row = await updateProvider(
      tx,
      id,
      {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.issuer !== undefined ? { issuer: body.issuer } : {}),
        ...(body.client_id !== undefined ? { clientId: body.client_id } : {}),
        ...(body.client_secret !== undefined ? { clientSecret: body.client_secret } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        allowedDomains: allowed,
        autoCreateDomains: autoCreate,
      },
      c.get('services').config.authSecretKey,
    );
    if (!row) throw new ApiError('not_found', 'No such provider.');
    const view = viewOf(row);
    await audit(c, {
      action: 'sso_provider.update',
      entityType: 'sso_provider',
      entityId: id,
      before: viewOf(before),
      after: { ...view, client_secret_changed: body.client_secret !== undefined },
    });
    return c.json(view, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    const tx = c.get('tx');
    const before = await getProvider(tx, id);
    if (!before || !(await deleteProvider(tx, id))) {
      throw new ApiError('not_found', 'No such provider.');
    }
    await audit(c, {
      action: 'sso_provider.delete',
      entityType: 'sso_provider',
      entityId: id,
      before: viewOf(before),
    });
    return c.body(null, 204);
  });
}
