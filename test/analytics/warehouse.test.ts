import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/connection-node.js';
import * as schema from '../../db/schema/tenant.js';
import { withTenant } from '../../db/tenancy.js';
import { planPublication, publishSnapshots, writePublication } from '../../analytics/publish.js';
import { snapshotKey } from '../../analytics/metrics/index.js';
import { RefreshInputError, refreshTenant, startRefresh } from '../../analytics/refresh.js';
import { openWarehouse } from '../../analytics/warehouse.js';
import { warehouseDetached, warehousePath } from '../../analytics/warehouse/attach.js';
import { refreshRuns, warehouseState } from '../../analytics/warehouse/run-log.js';
import { createAnalyticsWorld, type AnalyticsWorld, type TenantFixture } from './world.js';

const AS_OF = '2025-01-15';

let w: AnalyticsWorld;
beforeAll(async () => {
  w = await createAnalyticsWorld('warehouse');
});
afterAll(async () => w?.close());

describe('the warehouse holds no direct identifiers', () => {
  let t: TenantFixture;
  // Distinctive personal data planted in every column that may hold some.
  // (The referrer's host, mail.example.org, is kept on purpose: a site, not a person.)
  const PLANTED = [
    'zebediah',
    'quuxworth',
    'perpetua',
    '555-0147',
    '555 0100',
    'https://example.org',
    'sn-pii-42',
    '2015-03-04',
  ];

  beforeAll(async () => {
    t = await w.tenant('pii');
    const school = await t.insert('org_units', {
      parent_id: t.rootOrgUnitId,
      kind: 'school',
      name: 'Quuxworth Academy',
      code: 'QA',
      phone: '+1 602 555 0100',
      address: { street: '1 Quuxworth Way' },
      website: 'https://example.org',
    });
    const year = await t.insert('academic_sessions', {
      org_unit_id: t.rootOrgUnitId,
      kind: 'school_year',
      name: 'Quuxworth Year',
      start_date: '2024-08-01',
      end_date: '2025-05-31',
    });
    await t.insert('calendar_days', {
      school_id: school,
      session_id: year,
      date: '2025-01-14',
      note: 'Quuxworth memorial',
    });
    const student = await t.insert('students', {
      student_number: 'SN-PII-42',
      first_name: 'Zebediah',
      middle_name: 'Perpetua',
      last_name: 'Quuxworth',
      preferred_name: 'Zeb Quuxworth',
      date_of_birth: '2015-03-04',
      gender: 'x',
      grade_level: '3',
      school_id: school,
    });
    await t.insert('guardians', {
      first_name: 'Perpetua',
      last_name: 'Quuxworth',
      email: 'perpetua.quuxworth@example.org',
      phone: '+1 (602) 555-0147',
    });
    await t.insert('school_enrollments', {
      student_id: student,
      school_id: school,
      session_id: year,
      grade_level: '3',
      entry_date: '2024-08-01',
      exit_reason: 'Quuxworth family moved',
    });
    await t.insert('attendance_records', {
      student_id: student,
      school_id: school,
      date: '2025-01-14',
      status: 'excused_absence',
      reason: 'Zebediah had flu',
      note: 'Perpetua called 555-0147',
    });
    const course = await t.insert('courses', {
      code: 'QX',
      name: 'Quuxworth Studies',
      subject: 'math',
      description: 'By Perpetua',
    });
    const klass = await t.insert('classes', {
      course_id: course,
      session_id: year,
      school_id: school,
      section: 'Q',
      name: 'Quuxworth Homeroom',
      room: 'Quuxworth Hall',
    });
    const assignment = await t.insert('assignments', {
      class_id: klass,
      title: 'Zebediah essay',
      category: 'project',
      points_possible: 10,
      due_date: '2025-01-10',
    });
    await t.insert('scores', {
      assignment_id: assignment,
      student_id: student,
      points: 9,
      comment: 'Zebediah: great work',
    });
    const lead = await t.insert('leads', {
      guardian_name: 'Perpetua Quuxworth',
      email: 'perpetua.quuxworth@example.org',
      phone: '+1 (602) 555-0147',
      student_first_name: 'Zebediah',
      grade_interest: '3',
      school_id: school,
      stage: 'lost',
      lost_at: '2025-01-12T10:00:00Z',
      lost_reason: 'Moved in with Perpetua, 555-0147',
      message: 'Call Perpetua at 602-555-0147',
      source: 'google',
    });
    await t.insert('lead_stage_history', {
      lead_id: lead,
      from_stage: 'inquiry',
      to_stage: 'lost',
      changed_at: '2025-01-12T10:00:00Z',
      note: 'Perpetua said no',
    });
    await t.insert('lead_touchpoints', {
      lead_id: lead,
      kind: 'inquiry',
      channel: 'paid_search',
      utm_source: 'google',
      utm_medium: 'cpc',
      utm_campaign: 'fall',
      utm_term: 'zebediah quuxworth tutoring',
      utm_content: 'ad-b',
      referrer:
        'https://perpetua:secret@mail.example.org/inbox?email=perpetua.quuxworth@example.org',
      landing_page: 'https://school.test/apply?name=Zebediah',
      details: { email: 'perpetua.quuxworth@example.org' },
    });
    const account = await t.insert('billing_accounts', {
      account_number: 'ACC-QUUXWORTH',
      name: 'Quuxworth Family',
      school_id: school,
    });
    const invoice = await t.insert('invoices', {
      number: 'INV-QUUXWORTH',
      account_id: account,
      student_id: student,
      school_id: school,
      status: 'open',
      issue_date: '2025-01-02',
      due_date: '2025-01-20',
      total_cents: 1000,
      balance_cents: 1000,
      memo: 'Zebediah tuition',
    });
    const program = await t.insert('esa_programs', {
      name: 'Quuxworth Fund',
      state: 'AZ',
      award_amount_cents: 100,
    });
    const app = await t.insert('esa_applications', {
      student_id: student,
      program_id: program,
      session_id: year,
      school_id: school,
      status: 'approved',
      amount_requested_cents: 100,
      amount_awarded_cents: 100,
      submitted_at: '2024-08-01T00:00:00Z',
      decided_at: '2024-08-02T00:00:00Z',
      decision_note: 'Perpetua sent documents',
    });
    const disbursement = await t.insert('esa_disbursements', {
      application_id: app,
      amount_cents: 100,
      scheduled_on: '2024-09-01',
      disbursed_on: '2024-09-01',
      status: 'disbursed',
      reference: 'REF-QUUXWORTH',
    });
    const payment = await t.insert('payments', {
      account_id: account,
      method: 'esa',
      amount_cents: 100,
      esa_disbursement_id: disbursement,
      reference: 'CHK-QUUXWORTH-0147',
    });
    await t.insert('payment_allocations', {
      payment_id: payment,
      invoice_id: invoice,
      amount_cents: 100,
    });
    await t.refresh({ asOf: AS_OF });
  });

  it('has no identifying columns', async () => {
    const wh = await openWarehouse({ dir: t.dir, tenantId: t.id });
    try {
      const cols = await wh.rows<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal ORDER BY ALL`,
      );
      expect(cols.length).toBeGreaterThan(100);
      const allowed = new Set(['lost_reason', 'referrer_host']);
      const forbidden =
        /name|email|phone|address|message|note|comment|memo|title|referrer|landing|utm_term|reference|number|birth|gender|reason|details|website|room|description/;
      const bad = cols.filter((c) => forbidden.test(c.column_name) && !allowed.has(c.column_name));
      expect(bad).toEqual([]);
    } finally {
      await wh.close();
    }
  });

  it('holds none of the planted values in any column of any table, including the run log and snapshots', async () => {
    const wh = await openWarehouse({ dir: t.dir, tenantId: t.id });
    try {
      const tables = await wh.rows<{ table_name: string }>(
        `SELECT table_name FROM duckdb_tables() WHERE NOT internal`,
      );
      let scanned = 0;
      for (const { table_name } of tables) {
        const rows = await wh.rows<Record<string, unknown>>(`SELECT * FROM "${table_name}"`);
        for (const row of rows) {
          for (const [col, value] of Object.entries(row)) {
            const text = JSON.stringify(value).toLowerCase();
            scanned++;
            for (const p of PLANTED) expect(text, `${table_name}.${col}`).not.toContain(p);
            expect(text, `${table_name}.${col}`).not.toMatch(
              /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/,
            );
          }
        }
      }
      expect(scanned).toBeGreaterThan(200);
      // The free-text lost reason became a code; the referrer kept its host only.
      expect(await wh.rows(`SELECT lost_reason FROM leads`)).toEqual([{ lost_reason: 'other' }]);
      expect(await wh.rows(`SELECT referrer_host FROM lead_touchpoints`)).toEqual([
        { referrer_host: 'mail.example.org' },
      ]);
    } finally {
      await wh.close();
    }
  });

  it('refuses to extract through a superuser connection, which would bypass row-level security', async () => {
    await expect(
      t.refresh({
        branchUrl: w.t.adminUrl('pool'),
        warehouseDir: join(w.dir, 'superuser'),
        asOf: AS_OF,
      }),
    ).rejects.toThrow(/app role/);
  });

  it('does not contain the planted names anywhere in the file', async () => {
    // After close (checkpoint) the file is all there is; the referrer host aside, no planted
    // value was ever written to it.
    const bytes = (await readFile(warehousePath(t.dir, t.id))).toString('latin1').toLowerCase();
    for (const p of ['zebediah', 'perpetua', 'quuxworth', 'sn-pii-42'])
      expect(bytes).not.toContain(p);
  });
});

describe('opening a warehouse', () => {
  it('waits for another process to release the file instead of failing', async () => {
    const tenantId = randomUUID();
    const dir = join(w.dir, 'locks');
    await (await openWarehouse({ dir, tenantId })).close();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'hold-child.ts'), dir, tenantId, '1500'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('holding') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    // A short wait gives up with DuckDB's lock error …
    await expect(openWarehouse({ dir, tenantId, lockTimeoutMs: 100 })).rejects.toThrow(/lock/i);
    // … a longer one gets the file once the other process lets go.
    const started = Date.now();
    const wh = await openWarehouse({ dir, tenantId, lockTimeoutMs: 20_000 });
    expect(Date.now() - started).toBeGreaterThan(100);
    await wh.close();
    await exited;
  });

  it('shares one instance per file within a process and closes it with the last user', async () => {
    const tenantId = randomUUID();
    const dir = join(w.dir, 'shared');
    const a = await openWarehouse({ dir, tenantId });
    const b = await openWarehouse({ dir, tenantId });
    await a.run(`CREATE TABLE probe AS SELECT 42 AS x`);
    expect(await b.rows(`SELECT x FROM probe`)).toEqual([{ x: 42 }]);
    await a.close();
    expect(await b.rows(`SELECT x FROM probe`)).toEqual([{ x: 42 }]);
    await b.close();
    await b.close(); // idempotent
  });

  it('detaches a closed file in the background, while the same tenant can be opened elsewhere', async () => {
    const tenantId = randomUUID();
    const [dirA, dirB] = [join(w.dir, 'detach-a'), join(w.dir, 'detach-b')];
    const a = await openWarehouse({ dir: dirA, tenantId });
    await a.run(`CREATE TABLE probe AS SELECT 7 AS x`);
    const attached = async () => {
      const b = await openWarehouse({ dir: dirB, tenantId });
      try {
        return (await b.rows<{ path: string }>(`SELECT path FROM duckdb_databases()`)).map(
          (d) => d.path,
        );
      } finally {
        await b.close();
      }
    };
    expect(await attached()).toContain(warehousePath(dirA, tenantId));
    await a.close();
    await warehouseDetached(dirA, tenantId);
    expect(await attached()).not.toContain(warehousePath(dirA, tenantId));
    // What it committed is in the file.
    const again = await openWarehouse({ dir: dirA, tenantId });
    expect(await again.rows(`SELECT x FROM probe`)).toEqual([{ x: 7 }]);
    await again.close();
  });

  it('reads rows as JSON values, whichever way the column types are read', async () => {
    const wh = await openWarehouse({ dir: join(w.dir, 'rows'), tenantId: randomUUID() });
    try {
      // Plain columns only (read without per-value conversion) …
      expect(
        await wh.rows(
          `SELECT 'a' AS s, 7::INTEGER AS i, 1.5::DOUBLE AS d, 'nan'::DOUBLE AS nan,
                  '-inf'::DOUBLE AS neg, NULL::INTEGER AS z, true AS b`,
        ),
      ).toEqual([{ s: 'a', i: 7, d: 1.5, nan: 'NaN', neg: '-Infinity', z: null, b: true }]);
      // … and with types JSON has no number for.
      expect(
        await wh.rows(
          `SELECT 'a' AS s, 9007199254740993::BIGINT AS big, 1.25::DECIMAL(6,2) AS dec,
                  DATE '2025-01-02' AS day, '00000000-0000-0000-0000-00000000000a'::UUID AS id,
                  'inf'::DOUBLE AS inf`,
        ),
      ).toEqual([
        {
          s: 'a',
          big: '9007199254740993',
          dec: '1.25',
          day: '2025-01-02',
          id: '00000000-0000-0000-0000-00000000000a',
          inf: 'Infinity',
        },
      ]);
    } finally {
      await wh.close();
    }
  });

  it('rebuilds derived tables when the extracted-table catalog changed, keeping the run log', async () => {
    const tenantId = randomUUID();
    const dir = join(w.dir, 'versions');
    const wh = await openWarehouse({ dir, tenantId });
    await wh.run(
      `INSERT INTO refresh_runs (run_id, requested_mode, mode, status, started_at) VALUES ('${randomUUID()}', 'full', 'full', 'succeeded', now())`,
    );
    await wh.run(`UPDATE warehouse_state SET schema_fingerprint = 'older', watermark = '1:2:'`);
    await wh.run(`ALTER TABLE students DROP COLUMN iep`);
    await wh.close();
    const again = await openWarehouse({ dir, tenantId });
    try {
      // A fresh schema and no watermark: the next refresh will be full.
      expect((await warehouseState(again)).watermark).toBeNull();
      expect(
        (
          await again.rows(
            `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND table_name = 'students' AND column_name = 'iep'`,
          )
        ).length,
      ).toBe(1);
      expect(await refreshRuns(again)).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('sets an unreadable file aside and starts a fresh warehouse (the next refresh is full)', async () => {
    const tenantId = randomUUID();
    const dir = join(w.dir, 'garbage');
    await openWarehouse({ dir, tenantId }).then((wh) => wh.close());
    await writeFile(warehousePath(dir, tenantId), Buffer.alloc(16_384, 7));
    const reasons: string[] = [];
    const wh = await openWarehouse({ dir, tenantId, onRebuild: (r) => reasons.push(r) });
    try {
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(/not a valid DuckDB database/);
      expect((await warehouseState(wh)).watermark).toBeNull();
    } finally {
      await wh.close();
    }
    expect((await readdir(dir)).some((f) => f.includes('.unreadable-'))).toBe(true);
  });

  it("refuses another tenant's file and bad input", async () => {
    const tenantId = randomUUID();
    const dir = join(w.dir, 'mixup');
    const wh = await openWarehouse({ dir, tenantId });
    await wh.run(`UPDATE warehouse_state SET tenant_id = '${randomUUID()}'`);
    await wh.close();
    await expect(openWarehouse({ dir, tenantId })).rejects.toThrow(/another tenant/);
    expect(() => warehousePath(dir, '../etc/passwd')).toThrow(/UUID/);
    await expect(
      refreshTenant({
        tenantId: 'nope',
        branchUrl: 'postgres://x',
        warehouseDir: dir,
        mode: 'full',
      }),
    ).rejects.toBeInstanceOf(RefreshInputError);
    await expect(
      refreshTenant({
        tenantId,
        branchUrl: 'postgres://x',
        warehouseDir: dir,
        mode: 'full',
        asOf: '2025-02-30',
      }),
    ).rejects.toBeInstanceOf(RefreshInputError);
  });
});

describe('an uncommitted refresh', () => {
  let t: TenantFixture;
  beforeAll(async () => {
    t = await w.tenant('pending');
    const year = await t.insert('academic_sessions', {
      org_unit_id: t.rootOrgUnitId,
      kind: 'school_year',
      name: 'Y',
      start_date: '2024-08-01',
      end_date: '2025-05-31',
    });
    const school = await t.school('U1');
    await t.insert('calendar_days', { school_id: school, session_id: year, date: '2025-01-14' });
  });

  it('is rolled back when closed before its commit: the warehouse keeps its state and records the run failed', async () => {
    const committed = await t.refresh({ asOf: AS_OF });
    const pending = await startRefresh({
      tenantId: t.id,
      branchUrl: t.appUrl,
      warehouseDir: t.dir,
      mode: 'full',
      asOf: AS_OF,
    });
    expect(pending.snapshots.length).toBe(committed.snapshots.length);
    await pending.close();
    await expect(pending.commit()).rejects.toThrow(/no longer open/);
    const wh = await openWarehouse({ dir: t.dir, tenantId: t.id });
    try {
      expect(await warehouseState(wh)).toMatchObject({
        lastRunId: committed.runId,
        watermark: committed.watermarkAfter,
      });
      const [run] = await refreshRuns(wh, 1);
      expect(run).toMatchObject({ runId: pending.runId, status: 'failed' });
      expect(run!.error).toMatch(/closed before it committed/);
    } finally {
      await wh.close();
    }
    // The next refresh starts from the committed state.
    expect((await t.refresh({ asOf: AS_OF, mode: 'incremental' })).mode).toBe('incremental');
  });
});

describe('publishing snapshots', () => {
  let t: TenantFixture;
  let handle: Awaited<ReturnType<typeof createDb<typeof schema>>>;
  const db = () => handle.db;

  beforeAll(async () => {
    t = await w.tenant('publish');
    const year = await t.insert('academic_sessions', {
      org_unit_id: t.rootOrgUnitId,
      kind: 'school_year',
      name: 'Y',
      start_date: '2024-08-01',
      end_date: '2025-05-31',
    });
    for (const code of ['P1', 'P2']) {
      const school = await t.school(code);
      await t.insert('calendar_days', { school_id: school, session_id: year, date: '2025-01-14' });
    }
    handle = await createDb({ driver: 'pg', url: t.appUrl, schema, max: 2 });
  });
  afterAll(async () => handle?.close());

  const live = () =>
    t.exec(
      `select id, metric, scope_kind, scope_id, period, refresh_run_id, payload, as_of from metric_snapshots where tenant_id = $1 and deleted_at is null`,
      [t.id],
    );

  it('replaces the published rows in one transaction, upserting on the unique key and retiring vanished scopes', async () => {
    const first = await t.refresh({ asOf: AS_OF });
    // 5 metrics × 3 periods × (tenant + 2 schools)
    expect(first.snapshots).toHaveLength(45);
    const r1 = await publishSnapshots(db(), {
      tenantId: t.id,
      runId: first.runId,
      snapshots: first.snapshots,
      payloadRuns: first.payloadRuns,
      dataAsOf: first.extractedAt,
    });
    expect(r1).toMatchObject({ upserted: 45, unchanged: 0, retired: 0 });
    const rows1 = (await live()).rows;
    expect(rows1).toHaveLength(45);
    expect(new Set(rows1.map((r) => r.refresh_run_id))).toEqual(new Set([first.runId]));
    const att = rows1.find(
      (r) => r.metric === 'attendance' && r.scope_kind === 'tenant' && r.period === 'school_year',
    );
    expect(att.payload).toEqual(
      first.snapshots.find(
        (s) => s.metric === 'attendance' && s.scopeId === null && s.period === 'school_year',
      )!.payload,
    );
    // as_of is when the data was read (the extraction transaction's time).
    expect(new Date(att.as_of).toISOString()).toBe(new Date(first.extractedAt).toISOString());

    // A school is closed (soft-deleted): the next refresh no longer produces its scope.
    await t.exec(`update org_units set deleted_at = now() where tenant_id = $1 and code = 'P2'`, [
      t.id,
    ]);
    const second = await t.refresh({ asOf: AS_OF, mode: 'incremental' });
    expect(second.snapshots).toHaveLength(30);
    const r2 = await publishSnapshots(db(), {
      tenantId: t.id,
      runId: second.runId,
      snapshots: second.snapshots,
      payloadRuns: second.payloadRuns,
      dataAsOf: second.extractedAt,
    });
    // Only rows whose payload changed are written: P1's figures (no facts at P2) did not change.
    const changed = second.snapshots.filter(
      (s) => second.payloadRuns[snapshotKey(s)] === second.runId,
    );
    expect(changed.length).toBe(second.changedSnapshots);
    expect(changed.some((s) => s.scopeId !== null)).toBe(false);
    expect(r2).toMatchObject({
      upserted: changed.length,
      unchanged: 30 - changed.length,
      retired: 15,
    });
    const rows2 = (await live()).rows;
    expect(rows2).toHaveLength(30);
    for (const r of rows2) {
      const key = snapshotKey({
        metric: r.metric,
        scopeKind: r.scope_kind,
        scopeId: r.scope_id,
        period: r.period,
      });
      const s = second.snapshots.find((x) => snapshotKey(x) === key)!;
      expect(r.payload).toEqual(s.payload);
      // Unchanged rows keep the run and as-of of the publication that wrote their payload.
      expect(r.refresh_run_id).toBe(second.payloadRuns[key]);
      expect(new Date(r.as_of).toISOString()).toBe(
        new Date(
          r.refresh_run_id === first.runId ? first.extractedAt : second.extractedAt,
        ).toISOString(),
      );
      if (r.scope_kind === 'school') expect(r.refresh_run_id).toBe(first.runId);
      const before = rows1.find((b) => b.id === r.id);
      if (r.refresh_run_id === first.runId) expect(before).toBeDefined();
    }
    // Same (metric, scope, period) keeps its row: an update, not a new row.
    expect(rows2.find((r) => r.id === att.id)).toBeDefined();

    // Publishing the same run again writes nothing.
    const again = await publishSnapshots(db(), {
      tenantId: t.id,
      runId: second.runId,
      snapshots: second.snapshots,
      payloadRuns: second.payloadRuns,
      dataAsOf: second.extractedAt,
    });
    expect(again).toMatchObject({ upserted: 0, unchanged: 30, retired: 0 });
  });

  it("publishes in the caller's transaction: the caller's writes commit with the snapshots, its failure rolls everything back", async () => {
    const run = await t.refresh({ asOf: AS_OF, mode: 'incremental' });
    const before = (await live()).rows.map((r) => r.refresh_run_id);
    const reader = new pg.Client({ connectionString: t.appUrl });
    await reader.connect();
    const options = { tenantId: t.id, runId: run.runId, snapshots: run.snapshots };
    const insertPage = (tx: Parameters<Parameters<typeof withTenant>[2]>[0]) =>
      tx.insert(schema.dashboardPages).values({
        tenantId: t.id,
        page: 'overview',
        scopeKind: 'tenant',
        html: '<p>x</p>',
        asOf: new Date(),
        refreshRunId: run.runId,
      });
    try {
      const seenByReader: string[] = [];
      await expect(
        withTenant(db(), t.id, async (tx) => {
          const plan = await planPublication(tx, options);
          expect(plan.rewriting).toHaveLength(run.snapshots.length);
          await writePublication(tx, plan);
          await insertPage(tx);
          // Meanwhile a reader sees only the previous publication.
          await reader.query('begin');
          await reader.query(`select set_config('app.tenant_id', $1, true)`, [t.id]);
          seenByReader.push(
            ...(
              await reader.query(
                `select distinct refresh_run_id from metric_snapshots where deleted_at is null`,
              )
            ).rows.map((r) => r.refresh_run_id),
          );
          await reader.query('commit');
          throw new Error('rendering failed');
        }),
      ).rejects.toThrow('rendering failed');
      expect(new Set(seenByReader)).toEqual(new Set(before));
      expect((await live()).rows.map((r) => r.refresh_run_id)).toEqual(before);
      expect(
        (
          await t.exec(`select count(*)::int as n from dashboard_pages where tenant_id = $1`, [
            t.id,
          ])
        ).rows[0].n,
      ).toBe(0);

      await withTenant(db(), t.id, async (tx) => {
        await writePublication(tx, await planPublication(tx, options));
        await insertPage(tx);
      });
      const pages = await db().transaction(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${t.id}, true)`);
        return tx
          .select()
          .from(schema.dashboardPages)
          .where(eq(schema.dashboardPages.refreshRunId, run.runId));
      });
      expect(pages).toHaveLength(1);
      expect(new Set((await live()).rows.map((r) => r.refresh_run_id))).toEqual(
        new Set([run.runId]),
      );
    } finally {
      await reader.end();
    }
  });
});
