import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { PassThrough, Readable } from 'node:stream';
import { and, eq, isNull } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import * as t from '../../../db/schema/tenant.js';
import { withTenant } from '../../../db/tenancy.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { authenticate } from '../../auth/middleware.js';
import { exportOneRoster } from '../../oneroster/export.js';
import { ApiError, problem } from '../../problems.js';
import { problemResponses } from '../openapi.js';

/**
 * OneRoster 1.2 CSV bundles in and out of the tenant, for its administrators only: an
 * import touches every school, so it takes a tenant-wide `network_admin` grant.
 */
const requireTenantAdmin = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const grants = c.get('principal').grants;
  if (
    !grants.some(
      (g) => g.orgUnitId === null && ['network_admin', 'platform_admin'].includes(g.role),
    )
  )
    throw new ApiError('forbidden', 'Imports and exports are for the tenant’s network admins.');
  await next();
};

const Problem = z.object({
  file: z.string(),
  line: z.number().int().nullable(),
  column: z.string().nullable(),
  value: z.string().nullable(),
  message: z.string(),
});

const Report = z
  .object({
    ok: z.boolean(),
    dryRun: z.boolean(),
    applied: z.boolean(),
    oneRosterVersion: z.string().nullable(),
    files: z.record(
      z.string(),
      z.object({
        mode: z.enum(['bulk', 'delta', 'absent']),
        rows: z.number().int(),
        created: z.number().int(),
        updated: z.number().int(),
        deleted: z.number().int(),
      }),
    ),
    errors: z.array(Problem),
    warnings: z.array(Problem),
    moreErrors: z.number().int(),
  })
  .openapi('ImportReport');

const Import = z
  .object({
    id: z.uuid(),
    format: z.literal('oneroster'),
    status: z.enum(t.DATA_IMPORT_STATUSES),
    dry_run: z.boolean(),
    file_name: z.string().nullable(),
    progress: z
      .object({
        phase: z.enum(['reading', 'checking', 'merging', 'done']),
        file: z.string().nullable(),
        rows: z.number().int(),
      })
      .nullable(),
    report: Report.nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi('Import');

type ImportRow = typeof t.dataImports.$inferSelect;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toJson = (r: ImportRow): z.infer<typeof Import> => ({
  id: r.id,
  format: 'oneroster',
  status: r.status as z.infer<typeof Import>['status'],
  dry_run: r.dryRun,
  file_name: r.fileName,
  progress: (r.progress as z.infer<typeof Import>['progress']) ?? null,
  report: (r.report as z.infer<typeof Report> | null) ?? null,
  created_at: r.createdAt.toISOString(),
  started_at: iso(r.startedAt),
  finished_at: iso(r.finishedAt),
});

const Upload = z.object({
  file: z.any().openapi({
    type: 'string',
    format: 'binary',
    description: 'The bundle: a zip of OneRoster 1.2 (or 1.1) CSV files with its manifest.csv.',
  }),
  dry_run: z
    .enum(['true', 'false'])
    .optional()
    .openapi({ description: '`true`: check and count everything, write nothing.' }),
});

const create = createRoute({
  operationId: 'createImport',
  method: 'post',
  path: '/v1/imports',
  tags: ['Imports and exports'],
  summary: 'Upload a OneRoster bundle to import',
  description:
    'Takes a OneRoster 1.2 CSV bundle (zip, multipart field `file`; up to `IMPORT_LIMIT_BYTES`) and queues its import; poll `GET /v1/imports/{id}`. The import is atomic: all of the bundle or nothing. Rows are matched by `sourcedId`, so importing the same bundle again changes nothing. Network admins only.',
  middleware: [authenticate(), requireTenantAdmin()] as const,
  request: { body: { required: true, content: { 'multipart/form-data': { schema: Upload } } } },
  responses: {
    202: {
      description: 'Queued',
      headers: { Location: { schema: { type: 'string' } } },
      content: { 'application/json': { schema: Import } },
    },
    ...problemResponses(400, 401, 403, 413, 503),
  },
});

const get = createRoute({
  operationId: 'getImport',
  method: 'get',
  path: '/v1/imports/{id}',
  tags: ['Imports and exports'],
  summary: 'An import’s status, progress and report',
  description:
    '200 while the import is queued or running and once it succeeded; 422 when the bundle had errors, as a problem document whose `import` member is the import with its report (each error names file, line, column and value). Nothing of a failed import was written.',
  middleware: [authenticate(), requireTenantAdmin()] as const,
  request: { params: z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: {
    200: { description: 'The import', content: { 'application/json': { schema: Import } } },
    422: {
      description: 'The bundle had errors; nothing was written',
      content: {
        'application/problem+json': {
          schema: z.object({
            type: z.string(),
            title: z.string(),
            status: z.number(),
            import: Import,
          }),
        },
      },
    },
    ...problemResponses(400, 401, 403, 404),
  },
});

const exportRoute = createRoute({
  operationId: 'exportOneRoster',
  method: 'get',
  path: '/v1/exports/oneroster',
  tags: ['Imports and exports'],
  summary: 'The tenant as a OneRoster 1.2 CSV bundle',
  description:
    'A zip of OneRoster 1.2 CSV files (bulk), streamed: orgs, academic sessions, courses, classes, users, roles, demographics, enrollments, categories, line items and results. Importing it into another tenant and exporting again gives the same files (dateLastModified aside). Network admins only.',
  middleware: [authenticate(), requireTenantAdmin()] as const,
  responses: {
    200: {
      description: 'The bundle',
      content: { 'application/zip': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...problemResponses(401, 403),
  },
});

export function registerImportRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(create, async (c) => {
    const body = await c.req.parseBody();
    const file = body.file;
    if (!(file instanceof Blob) || file.size === 0)
      throw new ApiError('validation_failed', 'Send the bundle as the multipart field `file`.', {
        invalidParams: [{ name: 'file', reason: 'a non-empty file is required' }],
      });
    const dryRun = body.dry_run === 'true';
    const services = c.get('services');
    const enqueue = services.queue.enqueueImport?.bind(services.queue);
    if (!enqueue) throw new ApiError('unavailable', 'This deployment runs no imports.');
    const [row] = await c
      .get('tx')
      .insert(t.dataImports)
      .values({
        tenantId: c.get('tenant').id,
        dryRun,
        fileName: (file as File).name?.slice(0, 255) || null,
        bundle: Buffer.from(await file.arrayBuffer()),
        createdBy: c.get('principal').userId,
      })
      .returning();
    await audit(c, {
      action: 'import.create',
      entityType: 'data_import',
      entityId: row!.id,
      after: { dry_run: dryRun, bytes: file.size },
    });
    // The job starts after the commit: the worker must find the row.
    const tenantId = c.get('tenant').id;
    c.set('afterCommit', [...(c.get('afterCommit') ?? []), () => enqueue(tenantId, row!.id)]);
    c.header('Location', `/v1/imports/${row!.id}`);
    return c.json(toJson(row!), 202);
  });

  app.openapi(get, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c
      .get('tx')
      .select()
      .from(t.dataImports)
      .where(and(eq(t.dataImports.id, id), isNull(t.dataImports.deletedAt)));
    if (!row) throw new ApiError('not_found');
    const json = toJson(row);
    if (row.status === 'failed')
      return c.json(
        {
          ...problem('unprocessable', {
            detail: 'The bundle has errors; nothing was imported. The report lists each.',
            requestId: c.get('requestId'),
          }),
          import: json,
        },
        422,
        { 'content-type': 'application/problem+json' },
      );
    return c.json(json, 200);
  });

  app.openapi(exportRoute, async (c) => {
    const services = c.get('services');
    const tenant = c.get('tenant');
    await audit(c, { action: 'export.oneroster', entityType: 'tenant', entityId: tenant.id });
    const headers = {
      'content-type': 'application/zip',
      'content-disposition': 'attachment; filename="oneroster.zip"',
    };
    const out = new PassThrough();
    if (services.runtime === 'workerd') {
      // A Worker's connections end with its response: the zip is read before it is sent.
      const chunks: Buffer[] = [];
      out.on('data', (chunk: Buffer) => chunks.push(chunk));
      await exportOneRoster(c.get('tx'), out);
      return c.body(Buffer.concat(chunks), 200, headers) as never;
    }
    // On Node the zip streams as it is read, from a transaction of its own that starts
    // once the request's (the audit row) has committed and given back its connection: a
    // request holding two connections at once could exhaust the branch pool.
    const db = await services.branchDb(tenant.branchId);
    const start = async () => {
      withTenant(db, tenant.id, (tx) => exportOneRoster(tx, out)).catch((err: Error) => {
        services.log.warn('export failed', { tenant_id: tenant.id, error: err.message });
        out.destroy(err);
      });
    };
    c.set('afterCommit', [...(c.get('afterCommit') ?? []), start]);
    return new Response(Readable.toWeb(out) as ReadableStream, { status: 200, headers }) as never;
  });
}
