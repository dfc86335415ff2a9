/**
 * Extraction throughput against raw `COPY … TO STDOUT` (target ≥ 0.5×, BENCHMARKS.md).
 *
 *   npx tsx analytics/bench/extract-throughput.ts [--students 20000] [--days 100] [--runs 3] [--keep]
 *
 * Builds a throwaway deployment (prefix `hrx_extract_*` on DATABASE_URL's cluster), fills
 * one tenant with synthetic rows generated server-side, then alternates:
 * - baseline: the same `COPY (SELECT <warehouse columns> …) TO STDOUT` statements, as the
 *   app role in one REPEATABLE READ transaction with the tenant set, drained into nothing;
 * - extraction: `extractInto` in a warehouse transaction (PostgreSQL → chunk files →
 *   DuckDB), committed;
 * and prints rows/s and the ratio (medians). A full refresh (with metrics) is timed too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parseDbEnv } from '../../db/env.js';
import { withDatabase } from '../../db/migrate.js';
import { createTenant, migrateAll } from '../../db/platform.js';
import { extractInto, extractSql } from '../extract.js';
import { refreshTenant } from '../refresh.js';
import { WAREHOUSE_TABLES } from '../tables.js';
import { openWarehouse } from '../warehouse.js';

const { values: args } = parseArgs({
  options: {
    students: { type: 'string', default: '20000' },
    days: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
});
const STUDENTS = Number(args.students);
const DAYS = Number(args.days);
const RUNS = Number(args.runs);
const CLUSTER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const prefix = `hrx_extract_${Math.random().toString(36).slice(2, 8)}`;
const env = parseDbEnv({ NODE_ENV: 'test', DATABASE_URL: withDatabase(CLUSTER, prefix) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (s: string) => process.stdout.write(`${s}\n`);

async function fill(admin: pg.Client, tenantId: string, root: string): Promise<void> {
  const q = (sql: string) => admin.query(sql.replaceAll('{T}', `'${tenantId}'::uuid`));
  // Loaded in one go with triggers off (rows are consistent by construction).
  await q(`set session_replication_role = replica`);
  await q(`insert into org_units (tenant_id, parent_id, kind, name, code)
           select {T}, '${root}', 'school', 'School ' || i, 'S' || i from generate_series(1, 20) i`);
  await q(`create temp table schools as select id, row_number() over (order by code) - 1 as n
           from org_units where tenant_id = {T} and kind = 'school'`);
  await q(`insert into academic_sessions (tenant_id, org_unit_id, kind, name, start_date, end_date)
           values ({T}, '${root}', 'school_year', 'Y', '2024-08-01', '2025-05-31')`);
  await q(`insert into calendar_days (tenant_id, school_id, session_id, date)
           select {T}, s.id, (select id from academic_sessions where tenant_id = {T}), d::date
             from schools s, generate_series(date '2024-08-19', date '2024-08-19' + ${DAYS - 1}, interval '1 day') d`);
  await q(`insert into students (tenant_id, student_number, first_name, last_name, grade_level, school_id)
           select {T}, 'N' || i, 'F', 'L', (i % 12 + 1)::text, s.id
             from generate_series(1, ${STUDENTS}) i join schools s on s.n = i % 20`);
  await q(`insert into school_enrollments (tenant_id, student_id, school_id, session_id, grade_level, entry_date)
           select {T}, id, school_id, (select id from academic_sessions where tenant_id = {T}), grade_level, '2024-08-01'
             from students where tenant_id = {T}`);
  await q(`insert into attendance_records (tenant_id, student_id, school_id, date, status)
           select {T}, s.id, s.school_id, c.date,
                  (array['present','present','present','present','present','present','present','present','present','present','present','present','tardy','absent','excused_absence','early_departure'])[1 + (abs(hashtext(s.id::text || c.date::text)) % 16)]
             from students s join calendar_days c on c.school_id = s.school_id and c.tenant_id = {T}
            where s.tenant_id = {T}`);
  await q(`insert into courses (tenant_id, code, name, subject)
           select {T}, 'C' || i, 'Course ' || i, (array['math','ela','science','history','art'])[1 + i % 5] from generate_series(1, 10) i`);
  await q(`insert into classes (tenant_id, course_id, session_id, school_id, section, name)
           select {T}, c.id, (select id from academic_sessions where tenant_id = {T}), s.id, 'A', 'Class'
             from schools s cross join courses c where c.tenant_id = {T}`);
  await q(`insert into class_enrollments (tenant_id, class_id, student_id, entry_date, status)
           select {T}, k.id, s.id, '2024-08-01', 'active'
             from students s join classes k on k.school_id = s.school_id and k.tenant_id = {T}
            where s.tenant_id = {T} and abs(hashtext(s.id::text || k.id::text)) % 2 = 0`);
  await q(`insert into assignments (tenant_id, class_id, title, category, points_possible, due_date)
           select {T}, k.id, 'A' || i, 'homework', 10, date '2024-08-20' + i * 4
             from classes k, generate_series(1, 20) i where k.tenant_id = {T}`);
  await q(`insert into scores (tenant_id, assignment_id, student_id, points)
           select {T}, a.id, e.student_id, abs(hashtext(a.id::text || e.student_id::text)) % 11
             from class_enrollments e join assignments a on a.class_id = e.class_id and a.tenant_id = {T}
            where e.tenant_id = {T}`);
  await q(`insert into leads (tenant_id, guardian_name, email, school_id, stage, source, first_touch_at)
           select {T}, 'G', 'lead' || i || '@example.com', s.id,
                  (array['inquiry','tour_scheduled','tour_completed','application_started'])[1 + i % 4],
                  (array['google','facebook','referral'])[1 + i % 3], timestamptz '2024-09-01' + (i % 120) * interval '1 day'
             from generate_series(1, 50000) i join schools s on s.n = i % 20`);
  await q(`insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, changed_at)
           select {T}, id, 'inquiry', 'tour_scheduled', first_touch_at + interval '3 days'
             from leads where tenant_id = {T} and stage <> 'inquiry'`);
  await q(`insert into lead_touchpoints (tenant_id, lead_id, kind, utm_source, occurred_at)
           select {T}, id, 'inquiry', source, first_touch_at from leads where tenant_id = {T}`);
  await q(`insert into billing_accounts (tenant_id, account_number, name, school_id)
           select {T}, 'A' || i, 'Family', s.id from generate_series(1, 15000) i join schools s on s.n = i % 20`);
  await q(`create temp table accounts as select id, row_number() over (order by account_number) - 1 as n
           from billing_accounts where tenant_id = {T}`);
  await q(`insert into invoices (tenant_id, number, account_id, status, issue_date, due_date, total_cents, amount_paid_cents, balance_cents)
           select {T}, 'I' || i, a.id,
                  case when i % 5 = 0 then 'open' else 'paid' end,
                  date '2024-08-01' + (i % 150), date '2024-08-15' + (i % 150), 50000,
                  case when i % 5 = 0 then 0 else 50000 end, case when i % 5 = 0 then 50000 else 0 end
             from generate_series(1, 100000) i join accounts a on a.n = i % 15000`);
  await q(`insert into payments (tenant_id, account_id, method, amount_cents, received_at)
           select {T}, account_id, case when abs(hashtext(id::text)) % 4 = 0 then 'esa' else 'card' end, 50000,
                  issue_date + interval '10 days'
             from invoices where tenant_id = {T} and status = 'paid'`);
  await q(`insert into payment_allocations (tenant_id, payment_id, invoice_id, amount_cents)
           select {T}, p.id, i.id, 50000
             from (select id, row_number() over (order by id) n from payments where tenant_id = {T}) p
             join (select id, row_number() over (order by id) n from invoices where tenant_id = {T} and status = 'paid') i using (n)`);
  await q(`set session_replication_role = origin`);
  await q(`analyze`);
}

async function rawCopy(appUrl: string, tenantId: string): Promise<{ rows: number; ms: number }> {
  const c = new pg.Client({ connectionString: appUrl });
  await c.connect();
  try {
    const started = performance.now();
    await c.query('begin isolation level repeatable read read only');
    await c.query(
      `select set_config('app.tenant_id', $1, true), set_config('TimeZone', 'UTC', true)`,
      [tenantId],
    );
    let rows = 0;
    for (const t of WAREHOUSE_TABLES) {
      const stream = c.query(copyTo(extractSql(t, 'full', null)));
      await pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() }));
      rows += stream.rowCount;
    }
    await c.query('commit');
    return { rows, ms: performance.now() - started };
  } finally {
    await c.end();
  }
}

async function extraction(
  appUrl: string,
  tenantId: string,
  dir: string,
): Promise<{ rows: number; ms: number }> {
  await rm(dir, { recursive: true, force: true });
  const started = performance.now();
  const wh = await openWarehouse({ dir, tenantId });
  try {
    const result = await wh.transaction((tx) =>
      extractInto(tx, {
        tenantId,
        branchUrl: appUrl,
        mode: 'full',
        since: null,
        timezone: 'UTC',
        tmpDir: join(dir, '.scratch'),
      }),
    );
    const rows = Object.values(result.rowsPerTable).reduce((n, c) => n + c.extracted, 0);
    return { rows, ms: performance.now() - started };
  } finally {
    await wh.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hrb-extract-'));
  try {
    log(`deployment ${prefix}: migrating…`);
    await migrateAll(env);
    const tenant = await createTenant(env, {
      slug: 'bench',
      name: 'Bench',
      domains: ['bench.test'],
      placement: 'pool',
      adminEmail: 'admin@bench.test',
      adminPassword: 'Correct-Horse-Battery-9',
      actor: 'bench',
    });
    const admin = new pg.Client({ connectionString: withDatabase(CLUSTER, `${prefix}_pool`) });
    admin.on('error', () => undefined);
    await admin.connect();
    let t0 = performance.now();
    await fill(admin, tenant.id, tenant.rootOrgUnitId);
    await admin.end();
    log(
      `filled ${STUDENTS} students × ${DAYS} days in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const appUrl = (() => {
      const u = new URL(withDatabase(CLUSTER, `${prefix}_pool`));
      u.username = env.APP_DB_ROLE;
      return u.toString();
    })();

    const raw: number[] = [];
    const ext: number[] = [];
    let rows = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await rawCopy(appUrl, tenant.id);
      const e = await extraction(appUrl, tenant.id, join(dir, 'wh'));
      if (r.rows !== e.rows)
        throw new Error(`row counts differ: raw ${r.rows}, extraction ${e.rows}`);
      rows = r.rows;
      raw.push(r.ms);
      ext.push(e.ms);
      log(
        `run ${i + 1}: ${rows} rows — raw COPY ${(r.ms / 1000).toFixed(2)} s, extraction ${(e.ms / 1000).toFixed(2)} s`,
      );
    }
    const rawRate = rows / (median(raw) / 1000);
    const extRate = rows / (median(ext) / 1000);
    log(
      `raw COPY to nowhere: ${Math.round(rawRate).toLocaleString('en-US')} rows/s (median of ${RUNS})`,
    );
    log(`extraction into DuckDB: ${Math.round(extRate).toLocaleString('en-US')} rows/s`);
    log(`ratio: ${(extRate / rawRate).toFixed(2)}× (target ≥ 0.5×)`);

    t0 = performance.now();
    const full = await refreshTenant({
      tenantId: tenant.id,
      branchUrl: appUrl,
      warehouseDir: join(dir, 'refresh'),
      mode: 'full',
      asOf: '2025-01-15',
    });
    log(
      `full refresh with metrics: ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(extract ${full.timings.extractMs} ms, metrics ${full.timings.metricsMs} ms, ` +
        `commit ${full.timings.commitMs} ms), ${full.snapshots.length} snapshots`,
    );
    if (args.keep)
      log(`kept: warehouse ${join(dir, 'refresh')}, tenant ${tenant.id}, databases ${prefix}*`);
    const rss = process.memoryUsage().rss;
    log(`process RSS after refresh: ${Math.round(rss / 1024 / 1024)} MiB`);
  } finally {
    if (!args.keep) await rm(dir, { recursive: true, force: true });
    if (!args.keep) {
      const admin = new pg.Client({ connectionString: withDatabase(CLUSTER, 'postgres') });
      await admin.connect();
      const dbs = await admin.query<{ datname: string }>(
        `select datname from pg_database where datname = $1 or datname like $2`,
        [prefix, `${prefix}\\_%`],
      );
      for (const d of dbs.rows)
        await admin.query(`drop database if exists "${d.datname}" with (force)`);
      await admin.end();
    }
  }
}

await main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
