import type pg from 'pg';
import type { TenantFixture } from './world.js';

/** Deterministic pseudo-random numbers (mulberry32): fixtures never use Math.random. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof rng>;

/** Inserts many rows of one table in one statement (tenant_id added); returns their ids. */
export async function insertMany(
  client: pg.Client,
  tenantId: string,
  table: string,
  rows: Record<string, unknown>[],
): Promise<string[]> {
  if (rows.length === 0) return [];
  const cols = Object.keys(rows[0]!);
  const params: unknown[] = [tenantId];
  const tuples = rows.map((r) => {
    const slots = cols.map((c) => {
      const v = r[c];
      params.push(v !== null && typeof v === 'object' ? JSON.stringify(v) : v);
      return `$${params.length}`;
    });
    return `($1, ${slots.join(', ')})`;
  });
  const res = await client.query<{ id: string }>(
    `insert into "${table}" (tenant_id, ${cols.map((c) => `"${c}"`).join(', ')})
     values ${tuples.join(', ')} returning id`,
    params,
  );
  return res.rows.map((r) => r.id);
}

const STATUSES = [
  'present',
  'present',
  'present',
  'present',
  'tardy',
  'absent',
  'excused_absence',
  'early_departure',
];
const STAGES = [
  'inquiry',
  'tour_scheduled',
  'tour_completed',
  'application_started',
  'application_submitted',
  'accepted',
  'enrolled',
];
const addDays = (d: string, n: number) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

export interface World {
  schools: string[];
  year: string;
  days: string[];
  students: string[];
  classes: string[];
  assignments: string[];
  accounts: string[];
  programs: string[];
  leads: string[];
}

/** A small but complete tenant: every table the warehouse reads has rows. */
export async function buildWorld(t: TenantFixture, r: Rng): Promise<World> {
  const c = t.admin;
  const many = (table: string, rows: Record<string, unknown>[]) => insertMany(c, t.id, table, rows);
  const schools = await many('org_units', [
    { parent_id: t.rootOrgUnitId, kind: 'school', name: 'North', code: 'N' },
    { parent_id: t.rootOrgUnitId, kind: 'school', name: 'South', code: 'S' },
  ]);
  const [year] = await many('academic_sessions', [
    {
      org_unit_id: t.rootOrgUnitId,
      kind: 'school_year',
      name: 'Y',
      start_date: '2024-08-01',
      end_date: '2025-05-31',
    },
  ]);
  await many('academic_sessions', [
    {
      org_unit_id: t.rootOrgUnitId,
      parent_id: year,
      kind: 'term',
      name: 'T1',
      start_date: '2024-08-01',
      end_date: '2024-12-20',
    },
    {
      org_unit_id: t.rootOrgUnitId,
      parent_id: year,
      kind: 'term',
      name: 'T2',
      start_date: '2025-01-06',
      end_date: '2025-05-31',
    },
  ]);
  const days: string[] = [];
  for (let i = 0; days.length < 20; i++) {
    const d = addDays('2024-12-09', i);
    const dow = new Date(`${d}T00:00:00Z`).getUTCDay();
    if (dow !== 0 && dow !== 6 && (d < '2024-12-21' || d > '2025-01-05')) days.push(d);
  }
  await many(
    'calendar_days',
    schools.flatMap((s) =>
      days.map((date) => ({ school_id: s, session_id: year, date, kind: 'instructional' })),
    ),
  );
  const students = await many(
    'students',
    Array.from({ length: 30 }, (_, i) => ({
      student_number: `R${i}`,
      first_name: 'F',
      last_name: `L${i}`,
      grade_level: String(r.int(1, 5)),
      school_id: schools[i % 2],
    })),
  );
  await many(
    'school_enrollments',
    students.map((id, i) => ({
      student_id: id,
      school_id: schools[i % 2],
      session_id: year,
      grade_level: String(1 + (i % 5)),
      entry_date: r.chance(0.2) ? r.pick(days) : '2024-08-01',
      exit_date: r.chance(0.1) ? '2025-01-10' : null,
    })),
  );
  await many(
    'attendance_records',
    students.flatMap((id, i) =>
      days
        .filter(() => r.chance(0.85))
        .map((date) => ({
          student_id: id,
          school_id: schools[i % 2],
          date,
          status: r.pick(STATUSES),
        })),
    ),
  );
  const courses = await many('courses', [
    { code: 'M', name: 'Math', subject: 'math', credits: 1 },
    { code: 'E', name: 'English', subject: 'ela', credits: 0.5 },
  ]);
  const terms = (
    await c.query<{ id: string }>(
      `select id from academic_sessions where tenant_id = $1 and kind = 'term' order by start_date`,
      [t.id],
    )
  ).rows.map((x) => x.id);
  const classes = await many(
    'classes',
    [0, 1, 2, 3].map((i) => ({
      course_id: courses[i % 2],
      session_id: terms[i % 2],
      school_id: schools[i % 2],
      section: `S${i}`,
      name: `Class ${i}`,
    })),
  );
  const assignments = await many(
    'assignments',
    classes.flatMap((k) =>
      [0, 1, 2].map(() => ({
        class_id: k,
        title: 'Homework',
        category: 'homework',
        points_possible: r.pick([10, 20, 50, 100]),
        weight: r.pick([0, 1, 1, 2]),
        due_date: r.pick(['2024-09-15', '2024-11-01', '2025-01-08', '2025-01-14']),
      })),
    ),
  );
  const enrol: Record<string, unknown>[] = [];
  const scoreRows: Record<string, unknown>[] = [];
  students.forEach((s, i) => {
    const k = classes[i % 4]!;
    const status = r.pick(['active', 'completed', 'completed', 'dropped', 'withdrawn']);
    enrol.push({
      class_id: k,
      student_id: s,
      entry_date: '2024-08-01',
      status,
      // A drop before the as-of date takes the class out of every grades figure; a
      // withdrawal after it does not yet.
      exit_date: status === 'dropped' ? '2024-11-15' : status === 'withdrawn' ? '2025-02-01' : null,
      grade_points: r.pick([null, 0, 1, 2.5, 3, 4]),
      credits_attempted: r.pick([null, 0.5, 1]),
    });
    assignments
      .filter((_, j) => Math.floor(j / 3) === i % 4)
      .forEach((a) => {
        const missing = r.chance(0.1);
        const excused = !missing && r.chance(0.05);
        scoreRows.push({
          assignment_id: a,
          student_id: s,
          points: missing || excused || r.chance(0.05) ? null : r.int(0, 10),
          is_missing: missing,
          is_excused: excused,
          // Some graded after the as-of date (2025-01-15): not yet in the figures.
          graded_at: r.pick([null, '2024-12-01T10:00:00Z', '2025-01-20T10:00:00Z']),
        });
      });
  });
  await many('class_enrollments', enrol);
  await many('scores', scoreRows);

  const leads: string[] = [];
  for (let i = 0; i < 40; i++) leads.push(...(await addLead(t, r, schools, `seed${i}`)));

  const accounts = await many(
    'billing_accounts',
    Array.from({ length: 8 }, (_, i) => ({
      account_number: `AC${i}`,
      name: `Family ${i}`,
      school_id: i % 3 === 2 ? null : schools[i % 2],
    })),
  );
  for (let i = 0; i < 20; i++) await addInvoice(t, r, accounts, schools, `I${i}`);

  const programs = await many('esa_programs', [
    { name: 'P1', state: 'AZ', award_amount_cents: 700000 },
    { name: 'P2', state: 'FL', award_amount_cents: 800000 },
  ]);
  for (let i = 0; i < 12; i++) await addEsa(t, r, students[i]!, programs, year!);
  return { schools, year: year!, days, students, classes, assignments, accounts, programs, leads };
}

/** One lead with a random walk through the funnel, its history and touchpoints. */
export async function addLead(
  t: TenantFixture,
  r: Rng,
  schools: string[],
  tag: string,
): Promise<string[]> {
  const first = `${r.pick(['2024-09-03', '2024-10-14', '2024-12-20', '2025-01-09'])}T1${r.int(0, 9)}:00:00Z`;
  const steps = r.int(0, 6);
  const lost = r.chance(0.2);
  const stage = lost ? 'lost' : STAGES[steps]!;
  const [id] = await insertMany(t.admin, t.id, 'leads', [
    {
      guardian_name: `Guardian ${tag}`,
      email: `${tag}@example.com`,
      school_id: r.chance(0.9) ? r.pick(schools) : null,
      stage,
      source: r.pick(['google', 'facebook', null, 'referral']),
      first_touch_at: first,
      lost_at: lost ? '2025-01-10T12:00:00Z' : null,
      lost_reason: lost ? r.pick(['Tuition cost', 'free text reason']) : null,
      // Converted before or after the as-of date (2025-01-15).
      converted_at:
        stage === 'enrolled' ? r.pick(['2024-12-02T10:00:00Z', '2025-01-20T10:00:00Z']) : null,
    },
  ]);
  const history: Record<string, unknown>[] = [];
  let at = Date.parse(first);
  let idx = 0;
  while (idx < steps) {
    const next = Math.min(steps, idx + r.int(1, 2));
    at += r.int(1, 10) * 86_400_000;
    history.push({
      lead_id: id,
      from_stage: STAGES[idx],
      to_stage: STAGES[next],
      changed_at: new Date(at).toISOString(),
    });
    idx = next;
  }
  if (lost)
    history.push({
      lead_id: id,
      from_stage: STAGES[idx],
      to_stage: 'lost',
      changed_at: '2025-01-10T12:00:00Z',
    });
  await insertMany(t.admin, t.id, 'lead_stage_history', history);
  await insertMany(t.admin, t.id, 'lead_touchpoints', [
    {
      lead_id: id,
      kind: 'inquiry',
      utm_source: 'google',
      utm_medium: 'cpc',
      utm_campaign: 'fall',
      occurred_at: first,
    },
  ]);
  return [id!];
}

export async function addInvoice(
  t: TenantFixture,
  r: Rng,
  accounts: string[],
  schools: string[],
  number: string,
): Promise<string> {
  const total = r.int(1, 50) * 1000;
  const status = r.pick(['open', 'open', 'paid', 'draft', 'void', 'uncollectible']);
  const issue =
    status === 'draft' ? null : r.pick(['2024-09-01', '2024-10-15', '2024-12-01', '2025-01-02']);
  const account = r.pick(accounts);
  const paid =
    status === 'paid' ? total : status === 'open' && r.chance(0.4) ? Math.floor(total / 2) : 0;
  const [id] = await insertMany(t.admin, t.id, 'invoices', [
    {
      number,
      account_id: account,
      school_id: r.chance(0.5) ? r.pick(schools) : null,
      status,
      issue_date: issue,
      due_date: issue ? addDays(issue, r.pick([14, 30, 60])) : null,
      subtotal_cents: total,
      total_cents: total,
      amount_paid_cents: paid,
      balance_cents: total - paid,
    },
  ]);
  if (paid > 0) {
    const [p] = await insertMany(t.admin, t.id, 'payments', [
      {
        account_id: account,
        method: r.pick(['card', 'esa', 'ach']),
        amount_cents: paid,
        received_at: `${addDays(issue!, r.int(1, 40))}T12:00:00Z`,
      },
    ]);
    await insertMany(t.admin, t.id, 'payment_allocations', [
      { payment_id: p, invoice_id: id, amount_cents: paid },
    ]);
  }
  return id!;
}

export async function addEsa(
  t: TenantFixture,
  r: Rng,
  student: string,
  programs: string[],
  year: string,
): Promise<string> {
  const status = r.pick(['draft', 'submitted', 'under_review', 'approved', 'denied', 'withdrawn']);
  const submitted =
    status === 'draft' ? null : `${r.pick(['2024-08-05', '2024-12-20', '2025-01-07'])}T09:00:00Z`;
  const decided =
    status === 'approved' || status === 'denied'
      ? new Date(Date.parse(submitted!) + r.int(1, 30) * 86_400_000).toISOString()
      : null;
  const [id] = await insertMany(t.admin, t.id, 'esa_applications', [
    {
      student_id: student,
      program_id: r.pick(programs),
      session_id: year,
      status,
      amount_requested_cents: r.int(1, 9) * 100000,
      amount_awarded_cents: status === 'approved' ? 500000 : null,
      submitted_at: submitted,
      decided_at: decided,
    },
  ]);
  if (status === 'approved') {
    await insertMany(t.admin, t.id, 'esa_disbursements', [
      {
        application_id: id,
        amount_cents: 250000,
        scheduled_on: '2024-09-01',
        disbursed_on: '2024-09-01',
        status: 'disbursed',
      },
    ]);
  }
  return id!;
}

/** When `mutate` moves leads on: the stage-history rows it adds. */
const MOVED_AT = '2025-01-12T10:00:00Z';

/** A random batch of inserts, updates, soft deletes and hard deletes across the tables. */
export async function mutate(t: TenantFixture, r: Rng, world: World, round: number): Promise<void> {
  const q = (sql: string, params: unknown[] = []) => t.admin.query(sql, [t.id, ...params]);
  const some = async (table: string, n: number, where = 'true') =>
    (
      await q(
        `select id from "${table}" where tenant_id = $1 and ${where} order by md5(id::text || '${round}') limit ${n}`,
      )
    ).rows.map((x: { id: string }) => x.id);
  // Updates
  for (const id of await some('attendance_records', 15, 'deleted_at is null')) {
    await q(`update attendance_records set status = $2 where tenant_id = $1 and id = $3`, [
      r.pick(STATUSES),
      id,
    ]);
  }
  for (const id of await some(
    'scores',
    10,
    'deleted_at is null and not is_excused and not is_missing',
  )) {
    await q(`update scores set points = $2 where tenant_id = $1 and id = $3`, [r.int(0, 10), id]);
  }
  for (const id of await some(
    'leads',
    5,
    `deleted_at is null and stage in ('inquiry', 'tour_scheduled')`,
  )) {
    await q(`update leads set stage = 'tour_completed' where tenant_id = $1 and id = $2`, [id]);
    await q(
      `insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, changed_at) values ($1, $2, 'tour_scheduled', 'tour_completed', '${MOVED_AT}')`,
      [id],
    );
  }
  for (const id of await some('invoices', 3, `deleted_at is null and status = 'open'`)) {
    await q(`update invoices set status = 'uncollectible' where tenant_id = $1 and id = $2`, [id]);
  }
  // Voids before and after the as-of date (2025-01-15).
  for (const [i, id] of (
    await some('invoices', 2, `deleted_at is null and status = 'open'`)
  ).entries()) {
    await q(
      `update invoices set status = 'void', voided_at = $2 where tenant_id = $1 and id = $3`,
      [i ? '2025-01-10T10:00:00Z' : '2025-01-20T10:00:00Z', id],
    );
  }
  // Scores graded again, some after the as-of date.
  for (const [i, id] of (await some('scores', 6, 'deleted_at is null')).entries()) {
    await q(`update scores set graded_at = $2 where tenant_id = $1 and id = $3`, [
      i % 2 ? '2025-01-14T10:00:00Z' : '2025-01-21T10:00:00Z',
      id,
    ]);
  }
  // Conversions, some after the as-of date.
  for (const [i, id] of (
    await some('leads', 3, `deleted_at is null and converted_at is null`)
  ).entries()) {
    await q(
      `update leads set converted_at = $2, converted_student_id = $3 where tenant_id = $1 and id = $4`,
      [i % 2 ? '2025-01-13T10:00:00Z' : '2025-01-22T10:00:00Z', world.students[i], id],
    );
  }
  for (const id of await some(
    'esa_applications',
    3,
    `deleted_at is null and status = 'under_review'`,
  )) {
    await q(
      `update esa_applications set status = 'denied', decided_at = '2025-01-13T10:00:00Z' where tenant_id = $1 and id = $2`,
      [id],
    );
  }
  await q(`update school_enrollments set exit_date = '2025-01-13' where tenant_id = $1 and id = (
             select id from school_enrollments where tenant_id = $1 and exit_date is null and deleted_at is null
                and entry_date <= '2025-01-13' order by md5(id::text || '${round}') limit 1)`);
  // Soft deletes
  for (const table of [
    'attendance_records',
    'scores',
    'invoices',
    'students',
    'calendar_days',
    'class_enrollments',
    'esa_applications',
  ]) {
    for (const id of await some(table, 2, 'deleted_at is null')) {
      await q(`update "${table}" set deleted_at = now() where tenant_id = $1 and id = $2`, [id]);
    }
  }
  // Hard deletes (tombstones); deleting a lead cascades to its history and touchpoints.
  for (const table of [
    'attendance_records',
    'scores',
    'payment_allocations',
    'esa_disbursements',
    'leads',
  ]) {
    // Leads with stage history from before this batch (already in the warehouse), so the
    // cascade always carries removals; the updates above add history to leads they move.
    const where =
      table === 'leads'
        ? `deleted_at is null and exists (select 1 from lead_stage_history h
             where h.tenant_id = leads.tenant_id and h.lead_id = leads.id
               and h.changed_at <> '${MOVED_AT}')`
        : 'deleted_at is null';
    for (const id of await some(table, 2, where)) {
      await q(`delete from "${table}" where tenant_id = $1 and id = $2`, [id]);
    }
  }
  // Inserts
  // A weekend day made instructional (a make-up day), inside the windows.
  const newDay = round === 1 ? '2025-01-11' : '2025-01-12';
  await insertMany(
    t.admin,
    t.id,
    'attendance_records',
    world.students.slice(0, 10).map((s, i) => ({
      student_id: s,
      school_id: world.schools[i % 2],
      date: '2025-01-14',
      period: `P${round}`,
      status: r.pick(STATUSES),
    })),
  );
  await insertMany(t.admin, t.id, 'calendar_days', [
    { school_id: world.schools[0], session_id: world.year, date: newDay },
  ]);
  for (let i = 0; i < 3; i++)
    world.leads.push(...(await addLead(t, r, world.schools, `r${round}n${i}`)));
  for (let i = 0; i < 3; i++)
    await addInvoice(t, r, world.accounts, world.schools, `R${round}-${i}`);
  await addEsa(t, r, world.students[20 + round]!, world.programs, world.year);
  // A row born and hard-deleted between two extractions leaves only a tombstone.
  const [ephemeral] = await insertMany(t.admin, t.id, 'attendance_records', [
    {
      student_id: world.students[5],
      school_id: world.schools[1],
      date: '2025-01-13',
      period: `gone${round}`,
      status: 'absent',
    },
  ]);
  await q(`delete from attendance_records where tenant_id = $1 and id = $2`, [ephemeral]);
}
