import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, desc, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { authenticate, requirePermission } from '../../auth/middleware.js';
import { orgReach, withinReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';
import { Lead, leadJson } from './shape.js';
import { literalPrefix } from '../../resources/sql.js';
import { isUuid } from '../../../db/ids.js';

const DATE_OR_TIME = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);
const bound = (what: string, edge: 'from' | 'to') =>
  DATE_OR_TIME.optional().openapi({
    description:
      edge === 'from'
        ? `${what} on or after: a date (YYYY-MM-DD, in the lead’s school’s time zone, else the tenant’s) or an ISO-8601 time.`
        : `${what} on or before: a date (the whole day, in the lead’s school’s time zone, else the tenant’s) or an ISO-8601 time.`,
  });

const ListQuery = z.object({
  stage: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .max(64)
    .optional()
    .openapi({ description: 'Funnel stage key, e.g. `inquiry` or `lost`.' }),
  source: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: 'First-touch source (utm_source or referrer).' }),
  school_id: z.uuid().optional().openapi({ description: 'School of interest.' }),
  created_from: bound('Created', 'from'),
  created_to: bound('Created', 'to'),
  first_touch_from: bound('First touch', 'from'),
  first_touch_to: bound('First touch', 'to'),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .openapi({ description: 'Prefix of the guardian’s name (any word) or email.' }),
  limit: z.coerce.number().int().min(1).max(100).default(25).openapi({ description: 'Page size.' }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: 'The `next_cursor` of the previous page.' }),
});

const LeadPage = z
  .object({
    data: z.array(Lead),
    next_cursor: z
      .string()
      .nullable()
      .describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .openapi('LeadPage');

const route = createRoute({
  operationId: 'listLeads',
  method: 'get',
  path: '/v1/leads',
  tags: ['Leads'],
  summary: 'List admissions leads',
  description:
    'Newest first touch first. Only leads of schools within the caller’s reach are listed; leads without a school need tenant-wide reach.',
  middleware: [authenticate(), requirePermission('leads.read')] as const,
  request: { query: ListQuery },
  responses: {
    200: { description: 'A page of leads', content: { 'application/json': { schema: LeadPage } } },
    ...problemResponses(400, 401, 403),
  },
});

interface Cursor {
  /** first_touch_at with microseconds, UTC. */
  at: string;
  id: string;
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function encodeCursor(c: Cursor): string {
  return btoa(JSON.stringify([c.at, c.id]))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function decodeCursor(raw: string): Cursor {
  try {
    const [at, id] = JSON.parse(atob(raw.replace(/-/g, '+').replace(/_/g, '/'))) as unknown[];
    if (typeof at === 'string' && CURSOR_AT.test(at) && isUuid(id)) return { at, id };
  } catch {
    // fall through
  }
  throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
    invalidParams: [{ name: 'query.cursor', reason: 'not a cursor this API issued' }],
  });
}

/** `column >= from` / `column <= to`, where a bare date covers its whole day in zone `tz`. */
function range(column: PgColumn, from: string | undefined, to: string | undefined, tz: SQL): SQL[] {
  const out: SQL[] = [];
  const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v);
  if (from) {
    out.push(
      isDate(from)
        ? sql`${column} >= (${from}::date)::timestamp at time zone ${tz}`
        : sql`${column} >= ${from}::timestamptz`,
    );
  }
  if (to) {
    out.push(
      isDate(to)
        ? sql`${column} < (${to}::date + 1)::timestamp at time zone ${tz}`
        : sql`${column} <= ${to}::timestamptz`,
    );
  }
  return out;
}

/** Escapes LIKE wildcards so a search term matches literally. */

export function registerListLeads(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid('query');
    const tx = c.get('tx');
    const l = t.leads;
    // A bare date is a day in the lead's school's zone; the tenant's with no school (docs/metrics.md#rules-for-every-figure).
    const tz = sql`coalesce((select o.timezone from org_units o where o.id = ${l.schoolId}), ${c.get('tenant').timezone})`;
    const conditions: (SQL | undefined)[] = [isNull(l.deletedAt)];

    // Scope first: a lead outside the caller's reach is simply not listed.
    const reach = await orgReach(tx, c.get('principal'), 'leads.read');
    conditions.push(withinReach(reach, l.schoolId));

    if (q.stage) conditions.push(eq(l.stage, q.stage));
    if (q.source) conditions.push(eq(l.source, q.source));
    if (q.school_id) conditions.push(eq(l.schoolId, q.school_id));
    conditions.push(...range(l.createdAt, q.created_from, q.created_to, tz));
    conditions.push(...range(l.firstTouchAt, q.first_touch_from, q.first_touch_to, tz));
    if (q.q) {
      const prefix = literalPrefix(q.q);
      conditions.push(
        or(
          sql`${l.guardianName} ilike ${prefix}`,
          sql`${l.guardianName} ilike ${`% ${prefix}`}`,
          sql`${l.email} ilike ${prefix}`,
        ),
      );
    }
    if (q.cursor) {
      const cursor = decodeCursor(q.cursor);
      conditions.push(
        sql`(${l.firstTouchAt}, ${l.id}) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`,
      );
    }

    const rows = await tx
      .select({
        lead: l,
        // Microsecond precision: a JS Date would round, and the keyset would skip or repeat rows.
        cursorAt: sql<string>`to_char(${l.firstTouchAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      })
      .from(l)
      .where(and(...conditions))
      .orderBy(desc(l.firstTouchAt), desc(l.id))
      .limit(q.limit + 1);

    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next_cursor =
      rows.length > q.limit && last ? encodeCursor({ at: last.cursorAt, id: last.lead.id }) : null;
    return c.json(
      {
        data: page.map(({ lead }) => leadJson(lead)),
        next_cursor,
      },
      200,
    );
  });
}
