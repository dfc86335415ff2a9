import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, desc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import { stringify } from 'csv-stringify/sync';
import { rowsOf } from '../../../db/connection.js';
import { todayIn } from '../../../db/dates.js';
import { SCHOOL_KINDS } from '../../../db/schema/org.js';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { classRules, orgReach, rowScope, studentRules, withinReach } from '../../auth/scope.js';
import {
  DEFAULT_DAYS,
  LIST_KEYS,
  LISTS,
  OVERDUE_BUCKETS,
  type ListInput,
  type ListKey,
} from '../../dashboards/lists.js';
import { ApiError, invalidParamsOf } from '../../problems.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { orgOwned } from '../../resources/scopes.js';
import { esaRules } from '../../esa/scope.js';
import { accountRules, invoiceRules } from '../../finance/scope.js';
import { accountRecord, studentRecord } from '../../dashboards/records.js';
import { bearerOrBrowserSession, problemResponses } from '../openapi.js';
import { browserAuthenticate } from './pages.js';
import { DASHBOARD_HEADERS } from './html.js';
import { renderAccount, renderList, renderStudent, type ListFilters } from './list-page.js';
import { whoIsSignedIn } from './session-bar.js';

/** At most this many rows on a page; the download has every row. */
export const PAGE_ROWS = 5000;

/**
 * The rows of each list a caller reaches, on the list's table: org roles by school, teachers
 * and coaches their own classes' students. Families and students reach none — a list is
 * for the people who act on it.
 */
const SCOPES: Record<ListKey, () => ReturnType<typeof classRules>> = {
  'chronic-absence': () => staffOnly(studentRules(t.students.id, t.students.schoolId)),
  'at-risk': () => staffOnly(studentRules(t.students.id, t.students.schoolId)),
  failing: () => staffOnly(classRules(t.classes.id, t.classes.schoolId)),
  'missing-work': () => staffOnly(classRules(t.classes.id, t.classes.schoolId)),
  overdue: () => ({ org: invoiceRules.org }),
  'stale-leads': () => orgOwned(t.leads.schoolId),
  'esa-pending': () => ({
    org: esaRules(t.esaApplications.studentId, t.esaApplications.schoolId).org,
  }),
};
const staffOnly = (r: ReturnType<typeof classRules>) => ({ org: r.org, teacher: r.teacher });

/** The metric whose published window a list's figure uses. */
const WINDOW_METRIC: Partial<Record<ListKey, 'attendance' | 'grades'>> = {
  'chronic-absence': 'attendance',
  'at-risk': 'attendance',
  failing: 'grades',
  'missing-work': 'grades',
};

/** A filter left empty in the form (`?grade=`) is no filter. */
const blank = z.literal('');
const Query = z.object({
  school: z.union([blank, z.uuid()]).optional().openapi({ description: 'A school’s org unit id.' }),
  grade: z
    .union([blank, z.string().trim().max(16)])
    .optional()
    .openapi({ description: 'Grade level.' }),
  term: z
    .union([blank, z.uuid()])
    .optional()
    .openapi({ description: 'An academic session: the window is its dates.' }),
  from: z
    .union([blank, z.iso.date()])
    .optional()
    .openapi({ description: 'First day of the window (YYYY-MM-DD).' }),
  to: z
    .union([blank, z.iso.date()])
    .optional()
    .openapi({ description: 'Last day of the window (YYYY-MM-DD).' }),
  days: z
    .union([blank, z.coerce.number().int().min(1).max(3650)])
    .optional()
    .openapi({ description: 'Leads and ESA lists: more than this many days.' }),
  bucket: z
    .union([blank, z.enum(OVERDUE_BUCKETS)])
    .optional()
    .openapi({ description: 'Overdue list: days past due.' }),
});
type RawQuery = z.infer<typeof Query>;
/** The filters set, empty ones dropped. */
const filtersOf = (q: RawQuery) => ({
  school: q.school || undefined,
  grade: q.grade || undefined,
  term: q.term || undefined,
  from: q.from || undefined,
  to: q.to || undefined,
  days: q.days === '' ? undefined : q.days,
  bucket: q.bucket || undefined,
});
type ListQuery = ReturnType<typeof filtersOf>;

const listParam = z.object({
  list: z.enum(LIST_KEYS).openapi({ param: { name: 'list', in: 'path' } }),
});

const NOTHING = 'No such list.';

const hook = (result: { success: boolean; target?: string; error?: { issues: unknown[] } }) => {
  if (result.success) return undefined;
  if (result.target === 'param') throw new ApiError('not_found', NOTHING);
  throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
    invalidParams: invalidParamsOf((result.error?.issues ?? []) as never, result.target as never),
  });
};

const listRoute = createRoute({
  operationId: 'getDashboardList',
  method: 'get',
  path: '/dashboards/lists/{list}',
  tags: ['Dashboards'],
  summary: 'The people behind a dashboard figure',
  description:
    'Server-rendered HTML (no scripts, strict CSP): the students, families, leads or applications behind an actionable figure, read from the tenant’s records with the metric’s definition, limited to the caller’s scope (a principal their school, a teacher their own classes, tenant-wide roles all). Filters are query parameters. Every student listed is recorded in the record-access log. At most 5,000 rows; the CSV has all.',
  security: bearerOrBrowserSession,
  middleware: [browserAuthenticate()],
  request: { params: listParam, query: Query },
  responses: {
    200: { description: 'The list', content: { 'text/html': { schema: z.string() } } },
    303: { description: 'Not signed in (browsers): to /login?next=…' },
    ...problemResponses(400, 401, 403, 404),
  },
});

const csvRoute = createRoute({
  operationId: 'downloadDashboardList',
  method: 'get',
  path: '/dashboards/lists/{list}/csv',
  tags: ['Dashboards'],
  summary: 'A dashboard list as CSV',
  description:
    'The list’s rows with the columns shown on its page, as CSV (RFC 4180, UTF-8, CRLF, a header row), every row in the caller’s scope. Every student in it is recorded in the record-access log as an export.',
  security: bearerOrBrowserSession,
  middleware: [browserAuthenticate()],
  request: { params: listParam, query: Query },
  responses: {
    200: { description: 'CSV', content: { 'text/csv': { schema: z.string() } } },
    303: { description: 'Not signed in (browsers): to /login?next=…' },
    ...problemResponses(400, 401, 403, 404),
  },
});

const addDays = (d: string, n: number) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const min = (a: string, b: string) => (a < b ? a : b);

/**
 * The window of a list: the dates asked for; else a session's (`term`); else the window of
 * the figure it comes from (the published school-year window of its metric for the school,
 * or the tenant); else the last 365 days. Never after today.
 */
async function windowOf(
  c: Context<AppEnv>,
  key: ListKey,
  q: ListQuery,
  today: string,
): Promise<{ from: string; to: string; source: string }> {
  const tx = c.get('tx');
  if (q.term) {
    const s = t.academicSessions;
    const [session] = await tx
      .select({ start: s.startDate, end: s.endDate, name: s.name })
      .from(s)
      .where(and(eq(s.id, q.term), isNull(s.deletedAt)));
    if (!session) throw new ApiError('not_found', 'No such term.');
    return { from: session.start, to: min(session.end, today), source: session.name };
  }
  let from: string | null = null;
  let to: string | null = null;
  let source = 'the last 365 days';
  const metric = WINDOW_METRIC[key];
  if (metric) {
    const m = t.metricSnapshots;
    const [row] = await tx
      .select({ payload: m.payload })
      .from(m)
      .where(
        and(
          eq(m.metric, metric),
          eq(m.period, 'school_year'),
          q.school ? eq(m.scopeId, q.school) : isNull(m.scopeId),
          isNull(m.deletedAt),
        ),
      )
      .limit(1);
    const window = (row?.payload as { window?: { start?: string; end?: string } } | undefined)
      ?.window;
    if (window?.start && window.end) {
      from = window.start;
      to = window.end;
      source = 'the school year of the dashboards';
    }
  }
  if (q.from || q.to) source = 'the dates chosen';
  const end = min(q.to ?? to ?? today, today);
  const start = q.from ?? from ?? addDays(end, -364);
  if (start > end) {
    throw new ApiError('validation_failed', 'The window ends before it starts.', {
      invalidParams: [{ name: 'from', reason: 'must not be after `to` (or today)' }],
    });
  }
  return { from: start, to: end, source };
}

/** The choices of the filter form: schools the caller reaches, grade levels, terms. */
async function filterChoices(c: Context<AppEnv>, permission: string) {
  const tx = c.get('tx');
  const reach = await orgReach(tx, c.get('principal'), permission);
  const o = t.orgUnits;
  const schools = await tx
    .select({ id: o.id, name: o.name })
    .from(o)
    .where(and(inArray(o.kind, [...SCHOOL_KINDS]), isNull(o.deletedAt), withinReach(reach, o.id)))
    .orderBy(asc(o.name), asc(o.id));
  const grades = rowsOf<{ grade_level: string }>(
    await tx.execute(
      sql`select distinct grade_level from students where deleted_at is null order by 1 limit 40`,
    ),
  ).map((r) => r.grade_level);
  const s = t.academicSessions;
  const terms = await tx
    .select({ id: s.id, name: s.name, start: s.startDate })
    .from(s)
    .where(and(inArray(s.kind, ['school_year', 'term']), isNull(s.deletedAt)))
    .orderBy(desc(s.startDate), asc(s.name))
    .limit(24);
  return { schools, grades, terms };
}

interface Prepared {
  key: ListKey;
  input: Omit<ListInput, 'limit'>;
  filters: ListFilters;
  windowSource: string;
}

async function prepare(c: Context<AppEnv>, key: ListKey, q: ListQuery): Promise<Prepared> {
  const def = LISTS[key];
  const principal = c.get('principal');
  if (!principal.permissions.has(def.permission)) {
    throw new ApiError('forbidden', `This list needs the ${def.permission} permission.`);
  }
  const tx = c.get('tx');
  // A school outside the caller's reach answers as an empty list would: nothing.
  const scope: SQL | undefined = await rowScope(tx, principal, def.permission, SCOPES[key]());
  const today = todayIn(c.get('tenant').timezone);
  const window = await windowOf(c, key, q, today);
  return {
    key,
    input: {
      scope,
      schoolId: q.school,
      gradeLevel: q.grade,
      from: window.from,
      to: window.to,
      today,
      days: q.days ?? DEFAULT_DAYS[key] ?? 30,
      bucket: q.bucket ?? '90+',
    },
    filters: q,
    windowSource: window.source,
  };
}

export function registerDashboardLists(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    listRoute,
    async (c) => {
      const { list } = c.req.valid('param');
      const p = await prepare(c, list, filtersOf(c.req.valid('query')));
      const rows = await LISTS[list].run(c.get('tx'), { ...p.input, limit: PAGE_ROWS + 1 });
      const shown = rows.slice(0, PAGE_ROWS);
      await logRecordAccess(
        c,
        shown.flatMap((r) => (r.studentId ? [r.studentId] : [])),
        'list',
      );
      const page = renderList({
        key: list,
        tenantName: c.get('tenant').name,
        who: await whoIsSignedIn(c),
        input: p.input,
        windowSource: p.windowSource,
        filters: p.filters,
        choices: await filterChoices(c, LISTS[list].permission),
        rows: shown,
        truncated: rows.length > PAGE_ROWS,
      });
      return c.body(page, 200, DASHBOARD_HEADERS);
    },
    hook,
  );

  app.openapi(
    csvRoute,
    async (c) => {
      const { list } = c.req.valid('param');
      const p = await prepare(c, list, filtersOf(c.req.valid('query')));
      const rows = await LISTS[list].run(c.get('tx'), p.input);
      await logRecordAccess(
        c,
        rows.flatMap((r) => (r.studentId ? [r.studentId] : [])),
        'export',
      );
      const body = stringify([[...LISTS[list].columns], ...rows.map((r) => r.cells)], {
        record_delimiter: 'windows',
      });
      return c.body(body, 200, {
        'content-type': 'text/csv; charset=utf-8; header=present',
        'content-disposition': `attachment; filename="${list}-${p.input.today}.csv"`,
        'cache-control': 'private, no-store',
        'x-content-type-options': 'nosniff',
      });
    },
    hook,
  );
}

const idParam = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });
const NO_RECORD = 'No such record within your access.';
const recordHook = (result: { success: boolean }) => {
  if (!result.success) throw new ApiError('not_found', NO_RECORD);
  return undefined;
};

const studentRoute = createRoute({
  operationId: 'getDashboardStudent',
  method: 'get',
  path: '/dashboards/students/{id}',
  tags: ['Dashboards'],
  summary: 'A student’s record page',
  description:
    'Server-rendered HTML: who the student is, attendance over the dashboards’ school-year window and current grades per class. Staff of the school, the student’s teachers (their own classes’ grades), the family and the student. Recorded in the record-access log.',
  security: bearerOrBrowserSession,
  middleware: [browserAuthenticate()],
  request: { params: idParam },
  responses: {
    200: { description: 'The record', content: { 'text/html': { schema: z.string() } } },
    303: { description: 'Not signed in (browsers): to /login?next=…' },
    ...problemResponses(401, 403, 404),
  },
});

const accountRoute = createRoute({
  operationId: 'getDashboardAccount',
  method: 'get',
  path: '/dashboards/accounts/{id}',
  tags: ['Dashboards'],
  summary: 'A family account’s page',
  description:
    'Server-rendered HTML: the billing account and its open invoices with days past due. Finance staff within their schools, tenant-wide roles, and the family.',
  security: bearerOrBrowserSession,
  middleware: [browserAuthenticate()],
  request: { params: idParam },
  responses: {
    200: { description: 'The account', content: { 'text/html': { schema: z.string() } } },
    303: { description: 'Not signed in (browsers): to /login?next=…' },
    ...problemResponses(401, 403, 404),
  },
});

export function registerDashboardRecords(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    studentRoute,
    async (c) => {
      const { id } = c.req.valid('param');
      const tx = c.get('tx');
      const principal = c.get('principal');
      if (!principal.permissions.has('students.read')) throw new ApiError('forbidden');
      const today = todayIn(c.get('tenant').timezone);
      const window = await windowOf(c, 'chronic-absence', filtersOf({}), today);
      const record = await studentRecord(tx, {
        id,
        scope: await rowScope(
          tx,
          principal,
          'students.read',
          studentRules(t.students.id, t.students.schoolId),
        ),
        classScope: await rowScope(
          tx,
          principal,
          'grades.read',
          classRules(t.classes.id, t.classes.schoolId),
        ),
        from: window.from,
        to: window.to,
        tenantZone: c.get('tenant').timezone,
      });
      if (!record) throw new ApiError('not_found', NO_RECORD);
      await logRecordAccess(c, [id], 'read');
      const page = renderStudent({
        ...record,
        tenantName: c.get('tenant').name,
        who: await whoIsSignedIn(c),
        from: window.from,
        to: window.to,
      });
      return c.body(page, 200, DASHBOARD_HEADERS);
    },
    recordHook,
  );

  app.openapi(
    accountRoute,
    async (c) => {
      const { id } = c.req.valid('param');
      const tx = c.get('tx');
      const principal = c.get('principal');
      if (!principal.permissions.has('finance.read')) throw new ApiError('forbidden');
      const today = todayIn(c.get('tenant').timezone);
      const record = await accountRecord(tx, {
        id,
        scope: await rowScope(tx, principal, 'finance.read', accountRules(t.billingAccounts.id)),
        invoiceScope: await rowScope(tx, principal, 'finance.read', invoiceRules),
        today,
      });
      if (!record) throw new ApiError('not_found', NO_RECORD);
      const page = renderAccount({
        ...record,
        tenantName: c.get('tenant').name,
        who: await whoIsSignedIn(c),
        today,
      });
      return c.body(page, 200, DASHBOARD_HEADERS);
    },
    recordHook,
  );
}

/** The dashboards' school-year window for the tenant (attendance), else the last 365 days. */
export const publishedWindow = (c: Context<AppEnv>, today: string) =>
  windowOf(c, 'chronic-absence', filtersOf({}), today);
