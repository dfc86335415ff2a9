import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { etag, guarded } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { IdParam, LEAD_PERMISSIONS, LeadDetail, leadDetail, loadLead } from './shape.js';

const route = createRoute({
  operationId: 'getLead',
  method: 'get',
  path: '/v1/leads/{id}',
  tags: ['Leads'],
  summary: 'One admissions lead, with its touchpoints and stage history',
  description:
    'Touchpoints and stage changes oldest first. A lead of a school outside the caller’s reach (or without a school, for callers without tenant-wide reach) is not found. The ETag is the version to send as `If-Match` with a change.',
  middleware: guarded(LEAD_PERMISSIONS.read),
  request: { params: IdParam },
  responses: {
    200: { description: 'The lead', content: { 'application/json': { schema: LeadDetail } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

export function registerLeadDetail(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const lead = await loadLead(c, id, 'read');
    c.header('ETag', etag(lead));
    return c.json(await leadDetail(c, lead), 200);
  });
}
