import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { SESSION_KINDS } from '../../../db/schema/org.js';
import type { AppEnv } from '../../app-env.js';
import { rowScope, withinReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { jsonToValues } from '../../resources/json.js';

const Session = z
  .object({
    id: z.uuid(),
    org_unit_id: z.uuid(),
    parent_id: z.uuid().nullable(),
    kind: z.enum(SESSION_KINDS),
    name: z.string(),
    start_date: z.string(),
    end_date: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('AcademicSession');

const SessionFields = z.object({
  org_unit_id: z.uuid(),
  parent_id: z.uuid().nullable().optional(),
  kind: z.enum(SESSION_KINDS),
  name: z.string().trim().min(1).max(100),
  start_date: z.iso.date(),
  end_date: z.iso.date(),
});

const SessionCreate = SessionFields.refine((s) => s.end_date >= s.start_date, {
  path: ['end_date'],
  message: 'must be on or after start_date',
}).openapi('AcademicSessionCreate');

const SessionUpdate = SessionFields.partial().openapi('AcademicSessionUpdate');

const SessionFilters = z.object({
  org_unit_id: z.uuid().optional(),
  kind: z.enum(SESSION_KINDS).optional(),
  parent_id: z.uuid().optional(),
});

const permissions = { read: 'sessions.read', write: 'sessions.write' };

const scope = (c: Ctx, mode: 'read' | 'write') =>
  mode === 'read'
    ? Promise.resolve(undefined)
    : rowScope(c.get('tx'), c.get('principal'), permissions.write, {
        org: (reach) => withinReach(reach, t.academicSessions.orgUnitId),
      });

export const sessionResource: ResourceDef<
  typeof SessionCreate,
  typeof SessionUpdate,
  typeof SessionFilters
> = {
  entity: 'academic_session',
  path: '/v1/sessions',
  tag: 'Sessions',
  plural: 'academic sessions',
  table: t.academicSessions,
  permissions,
  schemas: { out: Session, create: SessionCreate, update: SessionUpdate, filters: SessionFilters },
  scope,
  order: { column: t.academicSessions.startDate, direction: 'asc' },
  filters: (q) => [
    q.org_unit_id ? eq(t.academicSessions.orgUnitId, q.org_unit_id) : undefined,
    q.kind ? eq(t.academicSessions.kind, q.kind) : undefined,
    q.parent_id ? eq(t.academicSessions.parentId, q.parent_id) : undefined,
  ],
  prepareUpdate: async (_c, input, before) => {
    const start = input.start_date ?? String(before.startDate);
    const end = input.end_date ?? String(before.endDate);
    if (end < start)
      throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
        invalidParams: [{ name: 'json.end_date', reason: 'must be on or after start_date' }],
      });
    return jsonToValues(input, t.academicSessions);
  },
  descriptions: {
    list: 'School years, terms and grading periods; `parent_id` nests them.',
  },
};

export function registerSessions(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, sessionResource);
}
