import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, desc, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { authenticate, requirePermission } from '../../auth/middleware.js';
import { ApiError, invalidParamsOf } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { publicationScope, scopeConditions } from './scope.js';

const Params = z.object({
  metric: z.enum(t.METRICS).openapi({ param: { name: 'metric', in: 'path' } }),
});

const Query = z.object({
  school: z
    .uuid()
    .optional()
    .openapi({ description: 'A school’s org unit id; omit for the whole tenant.' }),
  period: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,39}$/)
    .optional()
    .openapi({
      description:
        'One period as published: `school_year`, `term` or `last_30_days`; omit for every period.',
    }),
});

const Snapshot = z
  .object({
    period: z.string(),
    as_of: z.string().describe('When the figures were true (ISO-8601 UTC).'),
    refresh_run_id: z.uuid().nullable(),
    payload: z.unknown().describe('The metric’s figures, as published by the refresh.'),
  })
  .openapi('MetricSnapshot');

const MetricResponse = z
  .object({
    metric: z.enum(t.METRICS),
    scope: z.object({ kind: z.enum(['tenant', 'school']), school_id: z.uuid().nullable() }),
    as_of: z.string().describe('The newest `as_of` among the snapshots.'),
    snapshots: z.array(Snapshot),
  })
  .openapi('Metric');

const route = createRoute({
  operationId: 'getMetric',
  method: 'get',
  path: '/v1/metrics/{metric}',
  tags: ['Metrics'],
  summary: 'A published metric',
  description:
    'The latest figures published by the metrics refresh for the tenant or one school. Ratios, percentages, averages, GPA and median days are unrounded (a rate of 51 of 756 is 0.0674603…): round them once, for display. 404 until a refresh has published them.',
  middleware: [authenticate(), requirePermission('metrics.read')] as const,
  request: { params: Params, query: Query },
  responses: {
    200: {
      description: 'The metric’s snapshots, newest first',
      content: { 'application/json': { schema: MetricResponse } },
    },
    ...problemResponses(400, 401, 403, 404),
  },
});

const NOTHING = 'Nothing has been published for this metric and scope yet.';

export function registerGetMetric(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    route,
    async (c) => {
      const { metric } = c.req.valid('param');
      const { school, period } = c.req.valid('query');
      const scope = await publicationScope(c, 'metrics.read', school, NOTHING);
      const m = t.metricSnapshots;
      const rows = await c
        .get('tx')
        .select()
        .from(m)
        .where(
          and(
            eq(m.metric, metric),
            ...scopeConditions(scope, m),
            period ? eq(m.period, period) : undefined,
            isNull(m.deletedAt),
          ),
        )
        .orderBy(desc(m.asOf), asc(m.period));
      if (rows.length === 0) throw new ApiError('not_found', NOTHING);
      return c.json(
        {
          metric,
          scope: { kind: scope.kind, school_id: scope.schoolId },
          as_of: rows[0]!.asOf.toISOString(),
          snapshots: rows.map((r) => ({
            period: r.period,
            as_of: r.asOf.toISOString(),
            refresh_run_id: r.refreshRunId,
            payload: r.payload,
          })),
        },
        200,
      );
    },
    (result) => {
      if (result.success) return undefined;
      // An unknown metric is a path that does not exist, not a malformed request.
      if (result.target === 'param') throw new ApiError('not_found', NOTHING);
      throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
        invalidParams: invalidParamsOf(result.error.issues, result.target),
      });
    },
  );
}
