import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../db/log.js';
import { IMPORT_JOB, type ImportJobData } from '../../workers/contract.js';
import { ControlPlane } from '../../workers/control.js';
import { runImportJob } from '../../workers/processors/import.js';
import { REDIS_URL } from '../support/api-world.js';
import { Harness, type TenantKey } from '../support/harness.js';
import { expectProblem } from './staff-fixtures.js';
import { tempDir, unzip, writeZip } from '../oneroster/zip.js';

/**
 * `POST /v1/imports`, `GET /v1/imports/{id}` and `GET /v1/exports/oneroster` against the
 * running app (Node and workerd), real PostgreSQL and Redis: an upload is queued on the
 * metrics queue and run by a BullMQ worker with the import processor; network admins only;
 * each tenant sees only its own imports and exports.
 */
const queueName = `test-imports-${randomUUID()}`;
const h = await Harness.init('imports', { vars: { METRICS_QUEUE: queueName } });
const SAMPLE = 'test/fixtures/oneroster/sample';
const { zip, badZip, refreshed, worker, directory, connection } = await h.setup(async () => {
  const dir = await tempDir();
  const files: Record<string, string> = {};
  for (const name of await readdir(SAMPLE))
    files[name] = await readFile(join(SAMPLE, name), 'utf8');
  const zip = await readFile(await writeZip(join(dir, 'sample.zip'), files));
  const badZip = await readFile(
    await writeZip(join(dir, 'bad.zip'), {
      ...files,
      'orgs.csv': files['orgs.csv']!.replace(',school,LIN,', ',academy,LIN,'),
    }),
  );
  const directory = new ControlPlane(h.world.t.env, { branchPoolMax: 2 });
  const refreshed: string[] = [];
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(
    queueName,
    async (job) => {
      if (job.name !== IMPORT_JOB) return null;
      return runImportJob(
        {
          directory,
          log: createLogger('error'),
          enqueueRefresh: async (tenantId) => refreshed.push(tenantId),
        },
        job.data as ImportJobData,
      );
    },
    { connection },
  );
  return { zip, badZip, refreshed, worker, directory, connection };
});
afterAll(async () => {
  await worker.close();
  const queue = new Queue(queueName, { connection });
  await queue.obliterate({ force: true });
  await queue.close();
  await directory.close();
  connection.disconnect();
});

function multipart(file: Buffer, fields: Record<string, string> = {}) {
  const boundary = `----homeroom${randomUUID()}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`),
    );
  parts.push(
    Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="bundle.zip"\r\ncontent-type: application/zip\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

async function upload(
  tenant: TenantKey,
  token: string,
  file: Buffer,
  fields: Record<string, string> = {},
) {
  const { body, type } = multipart(file, fields);
  const { call } = await import('../support/api.js');
  return call(h.target('node'), 'POST', '/v1/imports', {
    host: h.tenants[tenant].host,
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    rawBody: body,
  });
}

/** Polls an import until it has finished. */
async function finished(tenant: TenantKey, token: string, id: string) {
  for (let i = 0; i < 200; i++) {
    const r = await h.api('node', tenant).get(`/v1/imports/${id}`, token);
    if (r.status !== 200 || ['succeeded', 'failed'].includes(r.json.status)) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the import did not finish');
}

function download(runtime: 'node' | 'workerd', tenant: TenantKey, token: string) {
  return new Promise<{ status: number; type: string | undefined; body: Buffer }>(
    (resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: h.target(runtime).port,
          path: '/v1/exports/oneroster',
          headers: { host: h.tenants[tenant].host, authorization: `Bearer ${token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              type: res.headers['content-type'],
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

describe('POST /v1/imports and GET /v1/imports/{id}', () => {
  it('queues the upload, runs it in a worker, reports progress and counts, audits it and asks for a refresh', async () => {
    const admin = await h.admin('alpha');
    const r = await upload('alpha', admin, zip);
    expect(r.status, r.text).toBe(202);
    expect(r.json).toMatchObject({
      status: 'queued',
      dry_run: false,
      file_name: 'bundle.zip',
      report: null,
    });
    expect(r.headers.location).toBe(`/v1/imports/${r.json.id}`);
    const done = await finished('alpha', admin, r.json.id);
    expect(done.status, done.text).toBe(200);
    expect(done.json).toMatchObject({
      status: 'succeeded',
      progress: { phase: 'done', rows: 50 },
      report: { ok: true, applied: true, files: { users: { rows: 8, created: 8 } } },
    });
    expect(refreshed).toContain(h.tenants.alpha.id);
    const staff = await h.staff.db();
    const rows = await staff.query(
      `select count(*)::int as n from students where tenant_id = $1 and source_id like 'stu-%'`,
      [h.tenants.alpha.id],
    );
    expect(rows.rows[0].n).toBe(3);
    const kept = await staff.query(
      `select bundle is null as cleared from data_imports where id = $1`,
      [r.json.id],
    );
    expect(kept.rows[0].cleared).toBe(true);
    expect((await h.staff.auditOf(r.json.id)).map((a) => a.action)).toEqual(['import.create']);
  });

  it('answers 422 with the report for a bundle with errors, and writes nothing', async () => {
    const admin = await h.admin('beta');
    const r = await upload('beta', admin, badZip);
    expect(r.status, r.text).toBe(202);
    const done = await finished('beta', admin, r.json.id);
    expectProblem(done, 422, 'unprocessable');
    expect(done.json.import.status).toBe('failed');
    expect(done.json.import.report.errors).toEqual([
      {
        file: 'orgs.csv',
        line: 3,
        column: 'type',
        value: 'academy',
        message: expect.stringContaining('not one of'),
      },
    ]);
    const staff = await h.staff.db();
    const rows = await staff.query(
      `select count(*)::int as n from org_units where tenant_id = $1 and source_id is not null`,
      [h.tenants.beta.id],
    );
    expect(rows.rows[0].n).toBe(0);
  });

  it('a dry run succeeds with the counts and writes nothing', async () => {
    const admin = await h.admin('beta');
    const r = await upload('beta', admin, zip, { dry_run: 'true' });
    const done = await finished('beta', admin, r.json.id);
    expect(done.json).toMatchObject({
      status: 'succeeded',
      dry_run: true,
      report: { ok: true, applied: false },
    });
    const staff = await h.staff.db();
    const rows = await staff.query(
      `select count(*)::int as n from students where tenant_id = $1 and source_id is not null`,
      [h.tenants.beta.id],
    );
    expect(rows.rows[0].n).toBe(0);
  });

  it('refuses callers who are not network admins (401, 403), a missing file (400), and hides other tenants’ imports (404)', async () => {
    const admin = await h.admin('alpha');
    expectProblem(await h.api('node').post('/v1/imports', null, {}), 401, 'unauthenticated');
    // A principal of the whole tenant can do much, but not import or export.
    const principal = await h.staff.token(
      h.tenants.alpha.id,
      await h.staff.user(h.tenants.alpha.id, [{ role: 'principal' }]),
    );
    expectProblem(await upload('alpha', principal, zip), 403, 'forbidden');
    expectProblem(await h.api('node').get('/v1/exports/oneroster', principal), 403, 'forbidden');
    const empty = await upload('alpha', admin, Buffer.alloc(0));
    expectProblem(empty, 400, 'validation_failed');
    const mine = await upload('alpha', admin, zip, { dry_run: 'true' });
    await finished('alpha', admin, mine.json.id);
    expectProblem(
      await h.api('node', 'beta').get(`/v1/imports/${mine.json.id}`, await h.admin('beta')),
      404,
      'not_found',
    );
  });
});

describe('GET /v1/exports/oneroster', () => {
  for (const runtime of ['node', 'workerd'] as const) {
    it(`streams the tenant’s own bundle as a zip (${runtime})`, async () => {
      const r = await download(runtime, 'alpha', await h.admin('alpha'));
      expect(r.status, r.body.toString()).toBe(200);
      expect(r.type).toBe('application/zip');
      const path = join(await tempDir(), 'export.zip');
      await writeFile(path, r.body);
      const files = await unzip(path);
      expect(files['users.csv']).toContain('stu-ava');
      expect(files['manifest.csv']).toContain('oneroster.version,1.2');
      // Beta's export has none of alpha's rows.
      const b = await download(runtime, 'beta', await h.admin('beta'));
      const bPath = join(await tempDir(), 'export-b.zip');
      await writeFile(bPath, b.body);
      expect((await unzip(bPath))['users.csv']).not.toContain('stu-ava');
    });
  }
});
