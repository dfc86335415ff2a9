import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { extractSql } from '../analytics/extract.js';
import { WAREHOUSE_TABLES } from '../analytics/tables.js';
import { createTenant, tenantBranchOwner } from '../db/platform.js';
import { formatSummary, seedTenant, silentProgress, type PresetName } from '../db/seed/index.js';
import type { RefreshJobResult } from '../workers/contract.js';
import { asAdmin, benchEnvironment } from './environment.js';

/**
 * The metrics pipeline against SPEC §10, on the `large` preset:
 * - full refresh wall time and the worker's peak RSS (≤ 60 s on 2 cores, ≤ 1 GiB) — the
 *   refresh runs in a child process (bench/refresh-child.ts: the worker's own code path);
 * - incremental refresh after 1,000 changed rows (≤ 2 s), and ≥ 20 × faster than
 *   `REFRESH MATERIALIZED VIEW CONCURRENTLY` of equivalent PostgreSQL views (attendance
 *   ADA and chronic absenteeism, funnel reached per stage, AR aging) after the same changes;
 * - extraction throughput ≥ 0.5 × raw `COPY (SELECT …) TO STDOUT` of the same statements.
 *
 * `BENCH_REFRESH_PRESET=small|demo` runs the same steps on a smaller preset (smoke test);
 * `BENCH_KEEP=1` keeps the databases and the warehouse.
 */

const TARGETS = {
  fullMs: 60_000,
  rssMiB: 1024,
  incrementalMs: 2_000,
  matviewRatio: 20,
  extractRatio: 0.5,
};

export interface RefreshBenchResult {
  preset: PresetName;
  rows: number;
  full: { wallMs: number; refreshMs: number; rssMiB: number; result: RefreshJobResult };
  incremental: { wallMs: number; refreshMs: number; result: RefreshJobResult };
  matview: { createMs: number; refreshMs: number; perView: Record<string, number> };
  extraction: { rowsPerSecond: number; rawRowsPerSecond: number; ratio: number };
}

interface ChildRun {
  wallMs: number;
  result: RefreshJobResult;
  maxRssKiB: number;
}

function runChild(
  controlUrl: string,
  tenantId: string,
  dir: string,
  mode: 'full' | 'incremental',
): Promise<ChildRun> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'refresh-child.ts'),
      controlUrl,
      tenantId,
      dir,
      mode,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallMs = performance.now() - started;
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line)
        return reject(new Error(`refresh child exited ${code}: ${out.slice(-2000)}`));
      const parsed = JSON.parse(line.slice(7)) as { result: RefreshJobResult; maxRssKiB: number };
      resolve({ wallMs, ...parsed });
    });
  });
}

/** The extraction's statements, as the app role in one snapshot, drained into nothing. */
async function rawCopy(
  appUrl: string,
  tenantId: string,
  timezone: string,
): Promise<{ rows: number; ms: number }> {
  const c = new pg.Client({ connectionString: appUrl });
  await c.connect();
  try {
    const started = performance.now();
    await c.query('begin isolation level repeatable read read only');
    await c.query(
      `select set_config('app.tenant_id', $1, true), set_config('TimeZone', $2, true)`,
      [tenantId, timezone],
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

const ZERO = `'00000000-0000-0000-0000-000000000000'::uuid`;

/** Materialized views computing the same figures as the warehouse (all dates up to today). */
const MATVIEWS: Record<string, { sql: string; key: string }> = {
  bench_mv_attendance: {
    key: 'tenant_id, scope_kind, scope_id',
    sql: `
      with membership as (
        select e.tenant_id, e.school_id, e.student_id, c.date
          from school_enrollments e
          join calendar_days c
            on c.tenant_id = e.tenant_id and c.school_id = e.school_id and c.kind = 'instructional'
           and c.deleted_at is null and c.date <= current_date
           and c.date >= e.entry_date and (e.exit_date is null or c.date <= e.exit_date)
         where e.deleted_at is null
         group by 1, 2, 3, 4
      ), per_student as (
        select m.tenant_id, m.school_id, m.student_id, count(*) as membership,
               count(*) filter (where a.status in ('present', 'tardy', 'early_departure')) as present,
               count(*) filter (where a.status in ('absent', 'excused_absence')) as absent
          from membership m
          left join attendance_records a
            on a.tenant_id = m.tenant_id and a.student_id = m.student_id and a.school_id = m.school_id
           and a.date = m.date and a.period is null and a.deleted_at is null
         group by 1, 2, 3
      ), figures as (
        select tenant_id, school_id, grouping(school_id) as g,
               count(*) as students, sum(membership) as membership_days, sum(present) as present_days,
               round(100.0 * sum(present) / nullif(sum(membership), 0), 2) as ada_percent,
               count(*) filter (where membership >= 10) as chronic_eligible,
               count(*) filter (where membership >= 10 and absent >= 0.1 * membership) as chronically_absent
          from per_student
         group by grouping sets ((tenant_id, school_id), (tenant_id))
      )
      select tenant_id, case when g = 1 then 'tenant' else 'school' end as scope_kind,
             coalesce(school_id, ${ZERO}) as scope_id, students, membership_days, present_days,
             ada_percent, chronic_eligible, chronically_absent,
             round(chronically_absent::numeric / nullif(chronic_eligible, 0), 4) as chronic_rate
        from figures`,
  },
  bench_mv_funnel: {
    key: 'tenant_id, scope_kind, scope_id, stage',
    sql: `
      with stages as (
        select tenant_id, key, position from funnel_stages where not is_terminal and deleted_at is null
      ), live as (
        select tenant_id, id, school_id, stage from leads where deleted_at is null
      ), touched as (
        select tenant_id, id, school_id, stage as key from live
        union all
        select h.tenant_id, h.lead_id, l.school_id, h.from_stage
          from lead_stage_history h join live l on l.tenant_id = h.tenant_id and l.id = h.lead_id
         where h.from_stage is not null
        union all
        select h.tenant_id, h.lead_id, l.school_id, h.to_stage
          from lead_stage_history h join live l on l.tenant_id = h.tenant_id and l.id = h.lead_id
      ), reached as (
        select t.tenant_id, t.id, t.school_id, coalesce(max(s.position), 0) as top
          from touched t left join stages s on s.tenant_id = t.tenant_id and s.key = t.key
         group by 1, 2, 3
      ), figures as (
        select s.tenant_id, r.school_id, grouping(r.school_id) as g, s.key as stage,
               count(*) filter (where r.top >= s.position) as reached
          from stages s join reached r on r.tenant_id = s.tenant_id
         group by grouping sets ((s.tenant_id, r.school_id, s.key), (s.tenant_id, s.key))
      )
      select tenant_id, case when g = 1 then 'tenant' else 'school' end as scope_kind,
             coalesce(school_id, ${ZERO}) as scope_id, stage, reached
        from figures`,
  },
  bench_mv_aging: {
    key: 'tenant_id, scope_kind, scope_id',
    sql: `
      with receivables as (
        select i.tenant_id, coalesce(i.school_id, a.school_id) as school_id, i.balance_cents as balance,
               current_date - i.due_date as days_past_due
          from invoices i
          join billing_accounts a on a.tenant_id = i.tenant_id and a.id = i.account_id
         where i.deleted_at is null and i.status in ('open', 'paid') and i.balance_cents > 0
           and i.issue_date <= current_date
      ), figures as (
        select tenant_id, school_id, grouping(school_id) as g,
               sum(balance) as outstanding_cents,
               coalesce(sum(balance) filter (where days_past_due <= 0), 0) as current_cents,
               coalesce(sum(balance) filter (where days_past_due between 1 and 30), 0) as d1_30_cents,
               coalesce(sum(balance) filter (where days_past_due between 31 and 60), 0) as d31_60_cents,
               coalesce(sum(balance) filter (where days_past_due between 61 and 90), 0) as d61_90_cents,
               coalesce(sum(balance) filter (where days_past_due > 90), 0) as over_90_cents
          from receivables
         group by grouping sets ((tenant_id, school_id), (tenant_id))
      )
      select tenant_id, case when g = 1 then 'tenant' else 'school' end as scope_kind,
             coalesce(school_id, ${ZERO}) as scope_id, outstanding_cents, current_cents,
             d1_30_cents, d31_60_cents, d61_90_cents, over_90_cents
        from figures`,
  },
};

/**
 * 1,000 changed rows, as the API would make them: 250 attendance corrections, 250 score
 * edits, 150 invoices paid + 100 issued, 150 leads advanced + 100 new inquiries.
 */
async function changeRows(admin: pg.Client, tenantId: string): Promise<number> {
  const n = async (sql: string) => (await admin.query(sql, [tenantId])).rowCount ?? 0;
  const pick = (table: string, count: number, where = 'true') =>
    `select id from ${table} where tenant_id = $1 and deleted_at is null and ${where}
      order by md5(id::text || 'bench') limit ${count}`;
  await admin.query('begin');
  let changed = 0;
  changed += await n(`
    update attendance_records set status = case when status = 'present' then 'absent' else 'present' end,
           updated_at = now()
     where tenant_id = $1 and id in (${pick('attendance_records', 250)})`);
  changed += await n(`
    update scores set points = coalesce(points, 0) + 1, updated_at = now()
     where tenant_id = $1 and id in (${pick('scores', 250)})`);
  changed += await n(`
    update invoices set status = 'paid', amount_paid_cents = total_cents, balance_cents = 0,
           paid_at = now(), updated_at = now()
     where tenant_id = $1 and id in (${pick('invoices', 150, `status = 'open'`)})`);
  changed += await n(`
    insert into invoices (tenant_id, number, account_id, status, issue_date, due_date,
                          subtotal_cents, total_cents, amount_paid_cents, balance_cents)
    select $1, 'BENCH-' || i, a.id, 'open', current_date - (i % 120), current_date - (i % 120) + 30,
           45000, 45000, 0, 45000
      from generate_series(1, 100) i
      join lateral (select id from billing_accounts where tenant_id = $1 order by id offset i limit 1) a on true`);
  changed += await n(`
    update leads set stage = 'tour_scheduled', updated_at = now()
     where tenant_id = $1 and id in (${pick('leads', 150, `stage = 'inquiry'`)})`);
  changed += await n(`
    insert into leads (tenant_id, guardian_name, email, stage, source, first_touch_at)
    select $1, 'Bench Guardian ' || i, 'bench-' || i || '@example.org', 'inquiry', 'google',
           now() - i * interval '1 hour'
      from generate_series(1, 100) i`);
  await admin.query('commit');
  return changed;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');

/** Runs the refresh benchmark end to end; prints figures and ratios against SPEC §10. */
export async function benchRefresh(
  log: (line: string) => void = (line) => console.log(line),
): Promise<RefreshBenchResult> {
  const preset = (process.env.BENCH_REFRESH_PRESET ?? 'large') as PresetName;
  const keep = process.env.BENCH_KEEP === '1';
  const bench = await benchEnvironment('refresh');
  const dir = await mkdtemp(join(tmpdir(), 'hrb-refresh-'));
  try {
    const slug = 'bench-refresh';
    const created = await createTenant(bench.env, {
      slug,
      name: 'Refresh bench',
      domains: ['bench-refresh.test'],
      placement: 'pool',
      adminEmail: 'admin@bench-refresh.test',
      adminPassword: 'Correct-Horse-Battery-9',
      actor: 'bench',
    });
    const owner = (await tenantBranchOwner(bench.env, slug))!;
    log(`refresh: seeding preset ${preset} (deployment ${bench.prefix})…`);
    const report = await seedTenant({
      ownerUrl: owner.ownerUrl,
      tenantId: created.id,
      preset,
      progress: silentProgress,
    });
    log(formatSummary(report));
    const controlUrl = bench.env.DATABASE_URL;
    const appUrl = bench.appUrl('pool');
    const adminUrl = bench.adminUrl('pool');
    const timezone = await asAdmin(bench.adminUrl(), async (c) => {
      const r = await c.query<{ timezone: string }>(`select timezone from tenants where id = $1`, [
        created.id,
      ]);
      return r.rows[0]!.timezone;
    });

    // Warm the cache once, so neither side pays for cold reads.
    const warm = await rawCopy(appUrl, created.id, timezone);
    log(`refresh: warm-up raw COPY ${warm.rows.toLocaleString('en-US')} rows in ${s(warm.ms)}`);

    const full = await runChild(controlUrl, created.id, dir, 'full');
    const rows = Object.values(full.result.rowsPerTable).reduce((n, c) => n + c.extracted, 0);
    const rssMiB = full.maxRssKiB / 1024;
    const raw = await rawCopy(appUrl, created.id, timezone);
    const rawRate = raw.rows / (raw.ms / 1000);
    const extractRate = rows / (full.result.timings.extractMs / 1000);

    const matview: RefreshBenchResult['matview'] = { createMs: 0, refreshMs: 0, perView: {} };
    let changed = 0;
    const incremental = await asAdmin(adminUrl, async (admin) => {
      for (const [name, v] of Object.entries(MATVIEWS)) {
        const t0 = performance.now();
        await admin.query(`drop materialized view if exists ${name}`);
        await admin.query(`create materialized view ${name} as ${v.sql}`);
        await admin.query(`create unique index ${name}_key on ${name} (${v.key})`);
        matview.createMs += performance.now() - t0;
      }
      await admin.query('analyze');
      changed = await changeRows(admin, created.id);
      log(`refresh: changed ${changed} rows (attendance, scores, invoices, leads)`);

      const inc = await runChild(controlUrl, created.id, dir, 'incremental');
      for (const name of Object.keys(MATVIEWS)) {
        const t0 = performance.now();
        await admin.query(`refresh materialized view concurrently ${name}`);
        matview.perView[name] = performance.now() - t0;
        matview.refreshMs += matview.perView[name];
      }
      return inc;
    });

    const result: RefreshBenchResult = {
      preset,
      rows,
      full: {
        wallMs: full.wallMs,
        refreshMs: full.result.timings.totalMs,
        rssMiB,
        result: full.result,
      },
      incremental: {
        wallMs: incremental.wallMs,
        refreshMs: incremental.result.timings.totalMs,
        result: incremental.result,
      },
      matview,
      extraction: {
        rowsPerSecond: extractRate,
        rawRowsPerSecond: rawRate,
        ratio: extractRate / rawRate,
      },
    };
    const f = full.result.timings;
    const i = incremental.result.timings;
    const incChanged = Object.values(incremental.result.rowsPerTable).reduce(
      (n, c) => n + c.extracted + c.removed,
      0,
    );
    const ratio = matview.refreshMs / i.totalMs;
    log(
      `refresh (${preset}): ${rows.toLocaleString('en-US')} rows in ${Object.keys(full.result.rowsPerTable).length} tables, ${full.result.snapshots} snapshots`,
    );
    log(
      `  full refresh: ${s(f.totalMs)} in the worker (extract ${s(f.extractMs)}, metrics ${s(f.metricsMs)}, ` +
        `commit ${s(f.commitMs)}, publish ${s(f.publishMs)}); process wall ${s(full.wallMs)} — target ≤ ${s(TARGETS.fullMs)}: ${verdict(f.totalMs <= TARGETS.fullMs)}`,
    );
    const duck = `DuckDB memory_limit ${process.env.DUCKDB_MEMORY_LIMIT ?? 'the worker default'}, threads ${process.env.DUCKDB_THREADS ?? 'all cores'}`;
    log(
      `  worker peak RSS: ${rssMiB.toFixed(0)} MiB (${duck}) — target ≤ ${TARGETS.rssMiB} MiB: ${verdict(rssMiB <= TARGETS.rssMiB)}`,
    );
    log(
      `  incremental refresh after ${changed.toLocaleString('en-US')} changed rows (${incChanged} extracted or removed): ${s(i.totalMs)} ` +
        `(extract ${s(i.extractMs)}, metrics ${s(i.metricsMs)}, commit ${s(i.commitMs)}, publish ${s(i.publishMs)}); ` +
        `process wall ${s(incremental.wallMs)} — target ≤ ${s(TARGETS.incrementalMs)}: ${verdict(i.totalMs <= TARGETS.incrementalMs)}`,
    );
    // Step breakdowns: every metric step is a duration; publish steps ending in Ms are too.
    const detail = (t: object, key: string, all: boolean) =>
      Object.entries((t as Record<string, Record<string, number> | undefined>)[key] ?? {})
        .map(([k, v]) => `${k} ${all || k.endsWith('Ms') ? s(v) : v}`)
        .join(', ');
    log(`    metrics step: ${detail(i, 'metricSteps', true)}`);
    log(`    publish step: ${detail(i, 'publishSteps', false)}`);
    log(
      `  REFRESH MATERIALIZED VIEW CONCURRENTLY (${Object.entries(matview.perView)
        .map(([k, v]) => `${k.replace('bench_mv_', '')} ${s(v)}`)
        .join(', ')}): ` + `${s(matview.refreshMs)} (created in ${s(matview.createMs)})`,
    );
    log(
      `  incremental vs matviews: ${ratio.toFixed(1)}× faster — target ≥ ${TARGETS.matviewRatio}×: ${verdict(ratio >= TARGETS.matviewRatio)}`,
    );
    log(
      `  extraction: ${Math.round(extractRate).toLocaleString('en-US')} rows/s into DuckDB vs raw COPY ` +
        `${Math.round(rawRate).toLocaleString('en-US')} rows/s = ${result.extraction.ratio.toFixed(2)}× — ` +
        `target ≥ ${TARGETS.extractRatio}×: ${verdict(result.extraction.ratio >= TARGETS.extractRatio)}`,
    );
    if (keep) log(`  kept: databases ${bench.prefix}*, warehouse ${dir}`);
    return result;
  } finally {
    if (!keep) {
      await rm(dir, { recursive: true, force: true });
      await bench.destroy();
    }
  }
}
