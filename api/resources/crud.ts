import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, desc, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { audit } from '../audit.js';
import { authenticate, requirePermission } from '../auth/middleware.js';
import { ApiError } from '../problems.js';
import { problemResponses } from '../routes/openapi.js';
import { afterCursor, decodeCursor, encodeCursor } from './cursor.js';
import { mapDbErrors } from './db-errors.js';
import { changedFields, jsonToValues, rowToJson } from './json.js';

/**
 * A small resource framework: one definition per resource gives list / read / create /
 * update / soft delete routes with the house conventions — snake_case JSON, zod
 * validation (400 + invalid_params), keyset pagination, relationship scoping (a row out of
 * scope is a 404, never listed), optimistic concurrency, constraint failures as 409/422,
 * and an audit row per mutation — all documented in the OpenAPI description.
 *
 * Concurrency: every row response carries `ETag: "<changed_xid>"`, the id of the
 * transaction that last wrote the row (kept by a trigger on every write, whoever writes).
 * A PATCH or DELETE with `If-Match` applies only when the row is unchanged since; a stale
 * one answers 412. Without `If-Match` the write applies.
 */

/** The columns every resource table has (see db/schema/columns.ts). */
export type CrudTable = PgTable & {
  id: PgColumn;
  tenantId: PgColumn;
  createdAt: PgColumn;
  deletedAt: PgColumn;
  changedXid: PgColumn;
};

export type Row = Record<string, unknown>;
/**
 * A row of the table: its columns' types for a table named where it is used (`t.guardians`),
 * a general `Row` for a resource's table (typed `CrudTable`).
 */
export type RowOf<T extends CrudTable> = CrudTable extends T ? Row : T['$inferSelect'];
export type Ctx = Context<AppEnv>;
export type Operation = 'list' | 'read' | 'create' | 'update' | 'delete';
type ZObject = z.ZodObject<z.ZodRawShape>;

/**
 * The callbacks that take validated input are declared as methods: a definition is checked
 * against its own schemas where it is written, and registerResource, which only passes each
 * schema's validated output back to the callbacks of the same definition, works on the
 * definition with its schemas' types left general.
 */
export interface ResourceDef<
  Create extends ZObject = ZObject,
  Update extends ZObject = ZObject,
  Filters extends ZObject = ZObject,
> {
  /** Singular, snake_case: the audit entity type and action prefix (`student.create`). */
  entity: string;
  /** Collection path, e.g. `/v1/students`. */
  path: string;
  tag: string;
  /** Plural noun for summaries. */
  plural: string;
  table: CrudTable;
  permissions: { read: string; write: string };
  schemas: { out: ZObject; create: Create; update: Update; filters?: Filters };
  /** camelCase columns never returned nor audited (secrets). */
  hidden?: readonly string[];
  /** Rows the caller may touch for reading or writing; undefined = all. */
  scope: (c: Ctx, mode: 'read' | 'write') => Promise<SQL | undefined>;
  filters?(q: z.infer<Filters>, c: Ctx): (SQL | undefined)[];
  /** List order (then id, same direction); default `created_at` ascending. */
  order?: { column: PgColumn; direction: 'asc' | 'desc' };
  /** Column values for a new row from the validated body; may check references. */
  prepareCreate?(c: Ctx, input: z.infer<Create>): Promise<Row>;
  /** Column values for a change; may refuse (throw ApiError). */
  prepareUpdate?(c: Ctx, input: z.infer<Update>, before: Row): Promise<Row>;
  /** Runs after the insert, before the audit row (e.g. child rows such as a role's permissions). */
  afterCreate?(c: Ctx, row: Row, input: z.infer<Create>): Promise<void>;
  beforeDelete?: (c: Ctx, row: Row) => Promise<void>;
  /** Called with the rows a read or a list is about to return (e.g. the FERPA log). */
  onRead?: (c: Ctx, rows: Row[], kind: 'read' | 'list') => Promise<void>;
  /** Extra JSON fields per row (e.g. a user's roles). */
  decorate?: (c: Ctx, rows: Row[]) => Promise<Row[]>;
  operations?: readonly Operation[];
  /** Extra OpenAPI text per operation. */
  descriptions?: Partial<Record<Operation, string>>;
}

/** The `{id}` path parameter, described as "<what> id.". */
export const idParam = (what = 'Record') =>
  z.object({
    id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: `${what} id.` }),
  });

const IdParam = idParam();

/** The optional `If-Match` header of writes (see checkIfMatch). */
export const IfMatch = z.object({
  'if-match': z
    .string()
    .max(64)
    .optional()
    .openapi({ description: 'The ETag of the version being changed; stale → 412.' }),
});

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(25).openapi({ description: 'Page size.' }),
  cursor: z
    .string()
    .max(400)
    .optional()
    .openapi({ description: 'The `next_cursor` of the previous page.' }),
});

export const etag = (row: Row) => `"${String(row.changedXid)}"`;

/** The row with this id within the caller's scope, or a 404 that says nothing more. */
export async function loadScoped<T extends CrudTable>(
  c: Ctx,
  def: { table: T; scope: ResourceDef['scope'] },
  id: string,
  mode: 'read' | 'write',
  options: { lock?: boolean } = {},
): Promise<RowOf<T>> {
  const table: CrudTable = def.table;
  const scope = await def.scope(c, mode);
  const query = c
    .get('tx')
    .select()
    .from(table)
    .where(and(eq(table.id, id), isNull(table.deletedAt), scope))
    .limit(1);
  const [row] = (options.lock ? await query.for('update') : await query) as RowOf<T>[];
  if (!row) throw new ApiError('not_found');
  return row;
}

/** The row as the API shows it. */
export function present(def: Pick<ResourceDef, 'hidden' | 'table'>, row: Row): Row {
  return rowToJson(row, def.hidden, def.table);
}

/** Registers the routes of a resource: list, read, create, update and delete, in that order. */
export function registerResource<C extends ZObject, U extends ZObject, F extends ZObject>(
  app: OpenAPIHono<AppEnv>,
  resource: ResourceDef<C, U, F>,
): void {
  const def: ResourceDef = resource;
  const ops = new Set(def.operations ?? ['list', 'read', 'create', 'update', 'delete']);
  const parts: RouteParts = {
    names: operationNames(def.path),
    item: `${def.path}/{id}`,
    readMw: guarded(def.permissions.read),
    writeMw: guarded(def.permissions.write),
    show: async (c, rows) => {
      const decorated = def.decorate ? await def.decorate(c, rows) : rows;
      return decorated.map((r) => present(def, r));
    },
  };
  if (ops.has('list')) registerList(app, def, parts);
  if (ops.has('read')) registerRead(app, def, parts);
  if (ops.has('create')) registerCreate(app, def, parts);
  if (ops.has('update')) registerUpdate(app, def, parts);
  if (ops.has('delete')) registerDelete(app, def, parts);
}

/** What the routes of one resource share. */
interface RouteParts {
  names: { many: string; one: string };
  /** The item path, `<collection>/{id}`. */
  item: string;
  readMw: MiddlewareHandler<AppEnv>[];
  writeMw: MiddlewareHandler<AppEnv>[];
  /** Rows as the API shows them, decorated. */
  show: (c: Ctx, rows: Row[]) => Promise<Row[]>;
}

const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

/** GET <collection>: a keyset-paginated page of the rows in the caller's read scope. */
function registerList(app: OpenAPIHono<AppEnv>, def: ResourceDef, parts: RouteParts): void {
  const Query = (def.schemas.filters ?? z.object({})).extend(PageQuery.shape);
  const Page = z.object({
    data: z.array(def.schemas.out),
    next_cursor: z.string().nullable().describe('Pass as `cursor`; null on the last page.'),
  });
  const route = createRoute({
    method: 'get',
    path: def.path,
    tags: [def.tag],
    operationId: `list${parts.names.many}`,
    summary: `List ${def.plural}`,
    description: def.descriptions?.list ?? `Only ${def.plural} within the caller’s scope.`,
    middleware: parts.readMw,
    request: { query: Query },
    responses: {
      200: { description: `A page of ${def.plural}`, content: json(Page) },
      ...problemResponses(400, 401, 403),
    },
  });
  app.openapi(route, async (c) => {
    const q = c.req.valid('query');
    const { rows, next_cursor } = await listPage(c, def, q);
    if (def.onRead) await def.onRead(c, rows, 'list');
    return c.json({ data: await parts.show(c, rows), next_cursor }, 200);
  });
}

/** One page of a list: the rows after the cursor, and the cursor of the next page. */
async function listPage(
  c: Ctx,
  def: ResourceDef,
  q: { limit: number; cursor?: string | undefined } & Record<string, unknown>,
): Promise<{ rows: Row[]; next_cursor: string | null }> {
  const { table } = def;
  const order = def.order ?? { column: table.createdAt, direction: 'asc' as const };
  const conditions: (SQL | undefined)[] = [
    isNull(table.deletedAt),
    await def.scope(c, 'read'),
    ...(def.filters ? def.filters(q, c) : []),
  ];
  if (q.cursor)
    conditions.push(afterCursor(order.column, table.id, decodeCursor(q.cursor), order.direction));
  const by = order.direction === 'asc' ? asc : desc;
  const rows = (await c
    .get('tx')
    .select({ row: table, sortKey: sql<string>`(${order.column})::text` })
    .from(table)
    .where(and(...conditions))
    .orderBy(by(order.column), by(table.id))
    .limit(q.limit + 1)) as { row: Row; sortKey: string }[];
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const next_cursor =
    rows.length > q.limit && last
      ? encodeCursor({ value: last.sortKey, id: String(last.row.id) })
      : null;
  return { rows: page.map((r) => r.row), next_cursor };
}

/** GET <collection>/{id}: one row in the caller's read scope, with its ETag. */
function registerRead(app: OpenAPIHono<AppEnv>, def: ResourceDef, parts: RouteParts): void {
  const route = createRoute({
    method: 'get',
    path: parts.item,
    tags: [def.tag],
    operationId: `get${parts.names.one}`,
    summary: `Read one of the ${def.plural}`,
    description: def.descriptions?.read,
    middleware: parts.readMw,
    request: { params: IdParam },
    responses: {
      200: { description: 'The record', content: json(def.schemas.out) },
      ...problemResponses(400, 401, 403, 404),
    },
  });
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const row = await loadScoped(c, def, id, 'read');
    if (def.onRead) await def.onRead(c, [row], 'read');
    c.header('ETag', etag(row));
    return c.json((await parts.show(c, [row]))[0], 200);
  });
}

/** POST <collection>: inserts a row that must land in the caller's write scope; audited. */
function registerCreate(app: OpenAPIHono<AppEnv>, def: ResourceDef, parts: RouteParts): void {
  const route = createRoute({
    method: 'post',
    path: def.path,
    tags: [def.tag],
    operationId: `create${parts.names.one}`,
    summary: `Create one of the ${def.plural}`,
    description: def.descriptions?.create,
    middleware: parts.writeMw,
    request: { body: { content: json(def.schemas.create), required: true } },
    responses: {
      201: { description: 'Created', content: json(def.schemas.out) },
      ...problemResponses(400, 401, 403, 409, 413, 422),
    },
  });
  app.openapi(route, async (c) => {
    const input = c.req.valid('json');
    const { table } = def;
    const values = def.prepareCreate
      ? await def.prepareCreate(c, input)
      : jsonToValues(input, table);
    const [created] = (await mapDbErrors(() =>
      c
        .get('tx')
        .insert(table)
        .values({ ...values, tenantId: c.get('tenant').id })
        .returning(),
    )) as Row[];
    const row = await withinWriteScope(c, def, created!);
    if (def.afterCreate) await def.afterCreate(c, row, input);
    await audit(c, {
      action: `${def.entity}.create`,
      entityType: def.entity,
      entityId: String(row.id),
      after: present(def, row),
    });
    c.header('ETag', etag(row));
    c.header('Location', `${def.path}/${String(row.id)}`);
    return c.json((await parts.show(c, [row]))[0], 201);
  });
}

/** PATCH <collection>/{id}: changes a row (If-Match honoured); audits the changed fields. */
function registerUpdate(app: OpenAPIHono<AppEnv>, def: ResourceDef, parts: RouteParts): void {
  const route = createRoute({
    method: 'patch',
    path: parts.item,
    tags: [def.tag],
    operationId: `update${parts.names.one}`,
    summary: `Change one of the ${def.plural}`,
    description:
      (def.descriptions?.update ? `${def.descriptions.update} ` : '') +
      'Send `If-Match` with the ETag of the version you read to avoid overwriting a newer change.',
    middleware: parts.writeMw,
    request: {
      params: IdParam,
      headers: IfMatch,
      body: { content: json(def.schemas.update), required: true },
    },
    responses: {
      200: { description: 'The changed record', content: json(def.schemas.out) },
      ...problemResponses(400, 401, 403, 404, 409, 412, 413, 422),
    },
  });
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    const { table } = def;
    const before = await loadScoped(c, def, id, 'write', { lock: true });
    checkIfMatch(c, before);
    const values = def.prepareUpdate
      ? await def.prepareUpdate(c, input, before)
      : jsonToValues(input, table);
    let row = before;
    if (Object.keys(values).length > 0) {
      const [updated] = (await mapDbErrors(() =>
        c.get('tx').update(table).set(values).where(eq(table.id, id)).returning(),
      )) as Row[];
      row = await withinWriteScope(c, def, updated!);
      const diff = changedFields(present(def, before), present(def, row));
      await audit(c, {
        action: `${def.entity}.update`,
        entityType: def.entity,
        entityId: id,
        before: diff.before,
        after: diff.after,
      });
    }
    c.header('ETag', etag(row));
    return c.json((await parts.show(c, [row]))[0], 200);
  });
}

/** DELETE <collection>/{id}: a soft delete (If-Match honoured); audited. */
function registerDelete(app: OpenAPIHono<AppEnv>, def: ResourceDef, parts: RouteParts): void {
  const route = createRoute({
    method: 'delete',
    path: parts.item,
    tags: [def.tag],
    operationId: `delete${parts.names.one}`,
    summary: `Delete one of the ${def.plural}`,
    description: def.descriptions?.delete ?? 'Soft delete: the record is kept, marked deleted.',
    middleware: parts.writeMw,
    request: { params: IdParam, headers: IfMatch },
    responses: {
      204: { description: 'Deleted' },
      ...problemResponses(400, 401, 403, 404, 409, 412, 422),
    },
  });
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const { table } = def;
    const before = await loadScoped(c, def, id, 'write', { lock: true });
    checkIfMatch(c, before);
    if (def.beforeDelete) await def.beforeDelete(c, before);
    await mapDbErrors(() =>
      c.get('tx').update(table).set({ deletedAt: new Date() }).where(eq(table.id, id)),
    );
    await audit(c, {
      action: `${def.entity}.delete`,
      entityType: def.entity,
      entityId: id,
      before: { id },
    });
    return c.body(null, 204);
  });
}

/**
 * The nouns of a resource's operation ids, from its collection path, so that generated
 * clients name methods after the URLs: `/v1/org-units` → `listOrgUnits`, `getOrgUnit`;
 * `/v1/esa/applications` → `listEsaApplications`; `/v1/staff` → `listStaff`, `getStaff`.
 */
export function operationNames(path: string): { many: string; one: string } {
  const many = path
    .split('/')
    .slice(2)
    .flatMap((segment) => segment.split('-'))
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
  const one = many.endsWith('sses')
    ? many.slice(0, -2)
    : many.endsWith('s')
      ? many.slice(0, -1)
      : many;
  return { many, one };
}

/** Authentication and a permission, as route middleware. */
export function guarded(...permissions: string[]): MiddlewareHandler<AppEnv>[] {
  return [authenticate(), requirePermission(...permissions)];
}

/** Refuses a write whose `If-Match` names another version of the row (412). */
export function checkIfMatch(c: Ctx, row: Row): void {
  const wanted = c.req.header('if-match');
  if (wanted === undefined || wanted === '*') return;
  const current = etag(row);
  const matches = wanted
    .split(',')
    .map((s) => s.trim().replace(/^W\//, ''))
    .includes(current);
  if (!matches)
    throw new ApiError(
      'precondition_failed',
      'The record changed since you read it (If-Match is stale). Read it again and retry.',
    );
}

/**
 * A written row must still be within the caller's write scope: a principal cannot create a
 * student at, or move one to, a school outside their reach.
 */
async function withinWriteScope(c: Ctx, def: Pick<ResourceDef, 'table' | 'scope'>, row: Row) {
  const scope = await def.scope(c, 'write');
  if (!scope) return row;
  const [visible] = await c
    .get('tx')
    .select({ id: def.table.id })
    .from(def.table)
    .where(and(eq(def.table.id, String(row.id)), scope));
  if (!visible) throw new ApiError('forbidden', 'The record would be outside your reach.');
  return row;
}
