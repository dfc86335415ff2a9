import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { tenantUsage } from '../../../db/tenants/usage.js';
import type { AppEnv } from '../../app-env.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { platformCall } from './guard.js';
import { SlugParam } from './tenants.js';

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;

const UsageQuery = z.object({
  from: z.iso
    .date()
    .optional()
    .openapi({ description: 'First day (UTC), inclusive; default 29 days before `to`.' }),
  to: z.iso.date().optional().openapi({ description: 'Last day (UTC), inclusive; default today.' }),
});

const UsageRow = z
  .object({
    day: z.iso.date(),
    kind: z.enum(['public', 'api', 'write']),
    count: z.number().int(),
  })
  .openapi('PlatformUsageRow');

const Usage = z
  .object({
    slug: z.string(),
    from: z.iso.date(),
    to: z.iso.date(),
    data: z.array(UsageRow).describe('Daily counters by kind; days without calls are absent.'),
    totals: z.object({ public: z.number().int(), api: z.number().int(), write: z.number().int() }),
  })
  .openapi('PlatformUsage');

const route = createRoute({
  operationId: 'getTenantUsage',
  method: 'get',
  path: '/v1/platform/tenants/{slug}/usage',
  tags: ['Platform'],
  summary: 'A tenant’s daily API usage',
  description:
    'Calls per UTC day: `public` (/v1/public/*), `api` (everything else) and `write` (successful non-GET calls, counted in addition). Counters are written a few seconds after the calls.',
  request: { params: SlugParam, query: UsageQuery },
  responses: {
    200: { description: 'Usage', content: { 'application/json': { schema: Usage } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

export function registerUsageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { slug } = c.req.valid('param');
    const query = c.req.valid('query');
    const to = query.to ?? new Date().toISOString().slice(0, 10);
    const from = query.from ?? new Date(Date.parse(to) - 29 * DAY_MS).toISOString().slice(0, 10);
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS;
    if (days < 0 || days >= MAX_DAYS) {
      throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
        invalidParams: [
          {
            name: 'query.from',
            reason:
              days < 0 ? 'must not be after `to`' : `the range is limited to ${MAX_DAYS} days`,
          },
        ],
      });
    }
    const deps = await c.get('services').platform();
    const usage = await platformCall(() => tenantUsage(deps, { slug, from, to }));
    const data = usage.rows.map((r) => ({
      day: r.day,
      kind: r.kind as z.infer<typeof UsageRow>['kind'],
      count: r.count,
    }));
    const totals = { public: 0, api: 0, write: 0 };
    for (const r of data) totals[r.kind] += r.count;
    return c.json({ slug, from, to, data, totals }, 200);
  });
}
