import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAREHOUSE_TABLES } from '../../analytics/tables.js';
import { openWarehouse } from '../../analytics/warehouse.js';
import { refreshRuns, warehouseState } from '../../analytics/warehouse/run-log.js';
import { buildWorld, insertMany, mutate, rng, type World } from './dataset.js';
import {
  createAnalyticsWorld,
  payloadOf,
  type AnalyticsWorld,
  type TenantFixture,
} from './world.js';

// Incremental extraction must produce exactly what a full rebuild produces, must never miss
// a row committed by a transaction in flight at the previous extraction, and a refresh
// that fails or is killed half-way must leave the warehouse as it was.
const AS_OF = '2025-01-15';

let w: AnalyticsWorld;
beforeAll(async () => {
  w = await createAnalyticsWorld('incremental');
});
afterAll(async () => w?.close());

/** Every extracted table (sorted by id), the metric snapshots and the watermark of a warehouse. */
async function dump(dir: string, tenantId: string) {
  const wh = await openWarehouse({ dir, tenantId });
  try {
    const tables: Record<string, unknown[]> = {};
    for (const t of WAREHOUSE_TABLES) {
      tables[t.name] = await wh.rows(`SELECT * FROM "${t.name}" ORDER BY id`);
    }
    const snapshots = (
      await wh.rows<{ k: string; payload: string }>(
        `SELECT metric || '|' || scope_kind || '|' || coalesce(scope_id::VARCHAR, '') || '|' || period AS k,
                payload::VARCHAR AS payload
           FROM metric_snapshots ORDER BY k`,
      )
    ).map((r) => [r.k, JSON.parse(r.payload)]);
    return { tables, snapshots, state: await warehouseState(wh) };
  } finally {
    await wh.close();
  }
}

describe('incremental refresh', () => {
  let t: TenantFixture;
  let world: World;

  beforeAll(async () => {
    t = await w.tenant('incr');
    world = await buildWorld(t, rng(7));
  });

  it('equals a full rebuild after random inserts, updates, soft deletes and hard deletes', async () => {
    const incDir = join(w.dir, 'inc');
    const first = await t.refresh({ warehouseDir: incDir, mode: 'incremental', asOf: AS_OF });
    // No watermark yet: the first run is a full run.
    expect(first.mode).toBe('full');
    const fullRows = Object.values(first.rowsPerTable).reduce((n, c) => n + c.extracted, 0);

    const r = rng(11);
    for (const round of [1, 2]) {
      await mutate(t, r, world, round);
      const inc = await t.refresh({ warehouseDir: incDir, mode: 'incremental', asOf: AS_OF });
      expect(inc.mode).toBe('incremental');
      expect(inc.watermarkBefore).not.toBeNull();
      // Only changed rows travel: far fewer than a full extraction.
      const moved = Object.values(inc.rowsPerTable).reduce((n, c) => n + c.extracted, 0);
      expect(moved).toBeGreaterThan(0);
      expect(moved).toBeLessThan(fullRows / 4);
      // Deletes arrived as removals.
      expect(inc.rowsPerTable.attendance_records!.removed).toBeGreaterThanOrEqual(4);
      expect(inc.rowsPerTable.leads!.removed).toBeGreaterThanOrEqual(2);
      expect(inc.rowsPerTable.lead_stage_history!.removed).toBeGreaterThan(0); // cascaded

      const fullDir = join(w.dir, `full-${round}`);
      const full = await t.refresh({ warehouseDir: fullDir, mode: 'full', asOf: AS_OF });
      const [a, b] = [await dump(incDir, t.id), await dump(fullDir, t.id)];
      for (const table of WAREHOUSE_TABLES) {
        expect(a.tables[table.name], `${table.name} after round ${round}`).toEqual(
          b.tables[table.name],
        );
      }
      expect(a.snapshots).toEqual(b.snapshots);
      expect(a.snapshots.length).toBe(full.snapshots.length);
      // The returned snapshots are what was stored.
      expect(inc.snapshots.map((s) => s.payload)).toEqual(full.snapshots.map((s) => s.payload));
      // Scores changed: the kept grades aggregates were patched; a new calendar day
      // rebuilds the attendance ones.
      expect(inc.aggregates).toEqual({
        lead_funnel: 'patched',
        attendance: 'rebuilt',
        grades: 'patched',
        finance: 'patched',
      });
    }
  });

  it('recomputes only the metrics whose inputs changed, and the carried-over figures are exact', async () => {
    const dir = join(w.dir, 'reuse');
    const first = await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    expect(first.recomputed).toEqual(['lead_funnel', 'attendance', 'grades', 'esa', 'finance']);
    // Only attendance changes.
    await t.exec(
      `update attendance_records set status = 'absent' where tenant_id = $1 and id in (
         select id from attendance_records where tenant_id = $1 and deleted_at is null and period is null
          and status <> 'absent' order by id limit 5)`,
      [t.id],
    );
    const inc = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF });
    expect(inc.recomputed).toEqual(['attendance']);
    const recomputedAll = await t.refresh({ warehouseDir: join(w.dir, 'reuse-full'), asOf: AS_OF });
    expect(inc.snapshots).toEqual(recomputedAll.snapshots);
    expect(payloadOf(inc.snapshots, 'attendance', null, 'school_year')).not.toEqual(
      payloadOf(first.snapshots, 'attendance', null, 'school_year'),
    );
    // Nothing changed: nothing recomputed. A new as-of date: everything recomputed.
    expect(
      (await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF })).recomputed,
    ).toEqual([]);
    const nextDay = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: '2025-01-16' });
    expect(nextDay.recomputed).toHaveLength(5);
    // A change to the calendar of sessions affects every metric's windows.
    await t.exec(
      `update academic_sessions set name = name || ' ' where tenant_id = $1 and kind = 'term'`,
      [t.id],
    );
    expect(
      (await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: '2025-01-16' })).recomputed,
    ).toHaveLength(5);
  });

  it('carries a student’s deletion to the attendance figures', async () => {
    const dir = join(w.dir, 'student-deleted');
    const first = await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    // Deleted with enrolments and records left as they were. The student is a member on
    // the school days before the as-of date (a student whose only enrolment starts later, or
    // ended in an earlier year, is in no figure of this window to begin with).
    await t.exec(
      `update students set deleted_at = now() where tenant_id = $1 and id = (
         select student_id from school_enrollments where tenant_id = $1 and deleted_at is null
            and entry_date <= $2::date - 30 and (exit_date is null or exit_date > $2::date)
          order by id limit 1)`,
      [t.id, AS_OF],
    );
    const inc = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF });
    expect(inc.recomputed).toEqual(expect.arrayContaining(['attendance']));
    const full = await t.refresh({
      warehouseDir: join(w.dir, 'student-deleted-full'),
      asOf: AS_OF,
    });
    expect(inc.snapshots).toEqual(full.snapshots);
    const students = (snaps: typeof first.snapshots) =>
      payloadOf(snaps, 'attendance', null, 'school_year').students;
    expect(students(inc.snapshots)).toBe(students(first.snapshots) - 1);
  });

  it('picks up a row committed by a transaction that was in flight during the previous extraction', async () => {
    const dir = join(w.dir, 'inflight');
    await t.refresh({ warehouseDir: dir, asOf: AS_OF });
    const writer = new pg.Client({ connectionString: t.appUrl });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query(`select set_config('app.tenant_id', $1, true)`, [t.id]);
      // An insert and an update, both uncommitted while the next extraction runs.
      const inserted = await writer.query<{ id: string }>(
        `insert into attendance_records (tenant_id, student_id, school_id, date, period, status)
         values ($1, $2, $3, '2025-01-15', 'late-writer', 'absent') returning id`,
        [t.id, world.students[0], world.schools[0]],
      );
      const updated = await writer.query<{ id: string }>(
        `update leads set source = 'in-flight' where id = (select id from leads where deleted_at is null order by id limit 1)
         returning id`,
      );
      const during = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF });
      expect(during.mode).toBe('incremental');
      const seenDuring = await dump(dir, t.id);
      expect(
        seenDuring.tables.attendance_records!.map((x) => (x as { id: string }).id),
      ).not.toContain(inserted.rows[0]!.id);
      await writer.query('commit');

      // The writer's xid was in flight in the stored snapshot, so the next run reads its rows
      // even though the transaction started before that extraction.
      const after = await t.refresh({ warehouseDir: dir, mode: 'incremental', asOf: AS_OF });
      expect(after.rowsPerTable.attendance_records!.extracted).toBeGreaterThanOrEqual(1);
      const seenAfter = await dump(dir, t.id);
      expect(seenAfter.tables.attendance_records!.map((x) => (x as { id: string }).id)).toContain(
        inserted.rows[0]!.id,
      );
      const lead = seenAfter.tables.leads!.find(
        (x) => (x as { id: string }).id === updated.rows[0]!.id,
      ) as { source: string };
      expect(lead.source).toBe('in-flight');
      // And the whole warehouse still equals a full rebuild.
      const fullDir = join(w.dir, 'inflight-full');
      await t.refresh({ warehouseDir: fullDir, asOf: AS_OF });
      expect(seenAfter.tables).toEqual((await dump(fullDir, t.id)).tables);
    } finally {
      await writer.end();
    }
  });
});

describe('atomic refresh', () => {
  let t: TenantFixture;
  let world: World;
  const dir = () => join(w.dir, 'atomic');

  beforeAll(async () => {
    t = await w.tenant('atomic');
    world = await buildWorld(t, rng(3));
    await t.refresh({ warehouseDir: dir(), asOf: AS_OF });
  });

  for (const mode of ['incremental', 'full'] as const) {
    it(`leaves the warehouse exactly as before when a ${mode} refresh fails midway, and records the error`, async () => {
      await mutate(t, rng(mode === 'full' ? 5 : 6), world, mode === 'full' ? 1 : 2);
      const before = await dump(dir(), t.id);
      const loaded: string[] = [];
      await expect(
        t.refresh({
          warehouseDir: dir(),
          mode,
          asOf: AS_OF,
          afterTable: (table) => {
            loaded.push(table);
            if (table === 'scores') throw new Error('injected failure after scores');
          },
        }),
      ).rejects.toThrow('injected failure after scores');
      // Several tables had been written in the transaction before the failure (an
      // incremental run writes only the tables with changes).
      expect(loaded).toEqual(expect.arrayContaining(['calendar_days', 'students', 'scores']));
      if (mode === 'full') expect(loaded).toEqual(expect.arrayContaining(['org_units']));
      expect(await dump(dir(), t.id)).toEqual(before);

      const wh = await openWarehouse({ dir: dir(), tenantId: t.id });
      try {
        const [last] = await refreshRuns(wh, 1);
        expect(last).toMatchObject({
          status: 'failed',
          mode,
          error: 'injected failure after scores',
        });
        expect(last!.watermarkAfter).toBeNull();
      } finally {
        await wh.close();
      }
    });
  }

  it('recovers from a worker killed mid-refresh: previous state intact, next refresh correct', async () => {
    await insertMany(t.admin, t.id, 'attendance_records', [
      {
        student_id: world.students[3],
        school_id: world.schools[1],
        date: '2025-01-15',
        period: 'killed',
        status: 'tardy',
      },
    ]);
    const before = await dump(dir(), t.id);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'refresh-child.ts'),
        t.id,
        t.appUrl,
        dir(),
        AS_OF,
        'scores',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on(
        'data',
        (b: Buffer) => b.toString().includes('stopped after scores') && resolve(),
      );
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await exited;

    expect(await dump(dir(), t.id)).toEqual(before);
    const result = await t.refresh({ warehouseDir: dir(), mode: 'incremental', asOf: AS_OF });
    const wh = await openWarehouse({ dir: dir(), tenantId: t.id });
    try {
      const runs = await refreshRuns(wh, 2);
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'abandoned']);
    } finally {
      await wh.close();
    }
    const fullDir = join(w.dir, 'atomic-full');
    const full = await t.refresh({ warehouseDir: fullDir, asOf: AS_OF });
    expect((await dump(dir(), t.id)).tables).toEqual((await dump(fullDir, t.id)).tables);
    expect(payloadOf(result.snapshots, 'attendance', null, 'school_year')).toEqual(
      payloadOf(full.snapshots, 'attendance', null, 'school_year'),
    );
  });
});
