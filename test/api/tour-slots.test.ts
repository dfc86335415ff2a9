import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';
import { bearer, expectProblem, Staff } from '../support/staff.js';

/**
 * Tour slots: schools publish them through the staff API (audited, scoped to the schools
 * within reach), the public site lists the open ones in the school's time, and families
 * book seats — never more than there are, even when they race. On Node and in workerd.
 */

let world: ApiWorld;
let staff: Staff;
const ids = { north: '', south: '', beta: '' };
let admin = '';
let southPrincipal = '';
let betaAdmin = '';

beforeAll(async () => {
  world = await createApiWorld('tourslots', {
    vars: { PUBLIC_RATE_LIMIT: '100000', METRICS_QUEUE: `test-${randomUUID()}` },
  });
  staff = await Staff.open(world);
  const db = await staff.db();
  const school = async (tenantId: string, parent: string, name: string, tz: string) =>
    (
      await db.query<{ id: string }>(
        `insert into org_units (tenant_id, parent_id, kind, name, code, grade_levels, status, timezone)
         values ($1, $2, 'school', $3, $4, '{K,1,2}', 'active', $5) returning id`,
        [tenantId, parent, name, `C-${randomUUID().slice(0, 6)}`, tz],
      )
    ).rows[0]!.id;
  ids.north = await school(world.alpha.id, world.alpha.rootOrgUnitId, 'North', 'America/Chicago');
  ids.south = await school(world.alpha.id, world.alpha.rootOrgUnitId, 'South', 'Asia/Tokyo');
  ids.beta = await school(world.beta.id, world.beta.rootOrgUnitId, 'Beta', 'America/Chicago');
  admin = (await staff.person(world.alpha.id, [{ role: 'network_admin' }])).token;
  southPrincipal = (
    await staff.person(world.alpha.id, [{ role: 'principal', orgUnitId: ids.south }])
  ).token;
  betaAdmin = (await staff.person(world.beta.id, [{ role: 'network_admin' }])).token;
});

afterAll(async () => {
  await staff?.close();
  await world?.close();
});

const inDays = (days: number, hourUtc = 15) => {
  const d = new Date(Date.now() + days * 86_400_000);
  d.setUTCHours(hourUtc, 30, 0, 0);
  return d.toISOString();
};

const family = (overrides: Record<string, unknown> = {}) => ({
  guardian_name: 'Ana Park',
  email: `tour.${randomUUID().slice(0, 8)}@example.org`,
  consent: true,
  ...overrides,
});

async function slotRow(id: string) {
  const db = await staff.db();
  const r = await db.query(
    `select booked, capacity, (select count(*)::int from tour_bookings b where b.slot_id = s.id) bookings
       from tour_slots s where id = $1`,
    [id],
  );
  return r.rows[0];
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`tour slots on ${runtime}`, () => {
    const target = (): ApiTarget => world.targets.find((t) => t.runtime === runtime)!;
    const staffCall = (
      method: string,
      path: string,
      token: string,
      body?: unknown,
      host = 'alpha.test',
    ): Promise<ApiResponse> =>
      call(target(), method, path, {
        host,
        headers: bearer(token),
        ...(body === undefined ? {} : { body }),
      });
    const createSlot = async (
      body: Record<string, unknown>,
      token = admin,
      host = 'alpha.test',
    ) => {
      const r = await staffCall('POST', '/v1/tour-slots', token, body, host);
      expect(r.status, r.text).toBe(201);
      return r.json as { id: string };
    };
    const book = (body: unknown, host = 'alpha.test') =>
      call(target(), 'POST', '/v1/public/tours', { host, body });

    it('lets staff publish, change and remove slots of schools within reach, audited', async () => {
      const slot = await createSlot({
        school_id: ids.south,
        starts_at: inDays(5),
        capacity: 4,
        note: 'Meet at the front office',
      });
      expect(slot).toMatchObject({
        school_id: ids.south,
        capacity: 4,
        booked: 0,
        duration_minutes: 60,
      });
      const changed = await staffCall('PATCH', `/v1/tour-slots/${slot.id}`, southPrincipal, {
        capacity: 6,
      });
      expect(changed.status, changed.text).toBe(200);
      expect(changed.json.capacity).toBe(6);
      // A principal of South reaches South's slots only; another tenant none.
      const north = await createSlot({ school_id: ids.north, starts_at: inDays(6), capacity: 2 });
      expectProblem(
        await staffCall('GET', `/v1/tour-slots/${north.id}`, southPrincipal),
        404,
        'not_found',
      );
      const refused = await staffCall('POST', '/v1/tour-slots', southPrincipal, {
        school_id: ids.north,
        starts_at: inDays(6),
        capacity: 2,
      });
      expectProblem(refused, 422, 'unprocessable');
      expectProblem(
        await staffCall('GET', `/v1/tour-slots/${slot.id}`, betaAdmin, undefined, 'beta.test'),
        404,
        'not_found',
      );
      for (const [method, body] of [
        ['PATCH', { capacity: 1 }],
        ['DELETE', undefined],
      ] as const) {
        expectProblem(
          await staffCall(method, `/v1/tour-slots/${slot.id}`, betaAdmin, body, 'beta.test'),
          404,
          'not_found',
        );
      }
      const betaList = await staffCall('GET', '/v1/tour-slots', betaAdmin, undefined, 'beta.test');
      expect(betaList.status, betaList.text).toBe(200);
      expect(betaList.json.data.map((r: { id: string }) => r.id)).not.toContain(slot.id);
      const foreignSchool = await staffCall(
        'POST',
        '/v1/tour-slots',
        betaAdmin,
        { school_id: ids.south, starts_at: inDays(6), capacity: 2 },
        'beta.test',
      );
      expectProblem(foreignSchool, 422, 'unprocessable');
      const bad = await staffCall('POST', '/v1/tour-slots', admin, {
        school_id: ids.south,
        starts_at: 'tomorrow',
        capacity: 0,
      });
      expectProblem(bad, 400, 'validation_failed');
      const deleted = await staffCall('DELETE', `/v1/tour-slots/${north.id}`, admin);
      expect(deleted.status, deleted.text).toBe(204);
      const actions = (await staff.auditOf(slot.id)).map((a) => a.action);
      expect(actions).toEqual(['tour_slot.create', 'tour_slot.update']);
      expect((await staff.auditOf(north.id)).map((a) => a.action)).toEqual([
        'tour_slot.create',
        'tour_slot.delete',
      ]);
    });

    it('lists open slots only, with the date and time at the school, per site and tenant', async () => {
      const open = await createSlot({
        school_id: ids.south,
        starts_at: '2036-03-01T23:30:00Z', // 08:30 on 2 March in Tokyo
        capacity: 3,
        duration_minutes: 45,
      });
      const full = await createSlot({ school_id: ids.south, starts_at: inDays(7), capacity: 1 });
      const db = await staff.db();
      await db.query(`update tour_slots set booked = capacity where id = $1`, [full.id]);
      const past = await createSlot({ school_id: ids.south, starts_at: inDays(-1), capacity: 5 });
      const betaSlot = await createSlot(
        { school_id: ids.beta, starts_at: inDays(3), capacity: 5 },
        betaAdmin,
        'beta.test',
      );

      const r = await call(target(), 'GET', '/v1/public/tours/slots', { host: 'alpha.test' });
      expect(r.status, r.text).toBe(200);
      const listed = r.json.data as { id: string }[];
      const mine = listed.find((s) => s.id === open.id);
      expect(mine).toEqual({
        id: open.id,
        school_id: ids.south,
        school_name: 'South',
        starts_at: '2036-03-01T23:30:00.000Z',
        local_date: '2036-03-02',
        local_time: '08:30',
        time_zone: 'Asia/Tokyo',
        duration_minutes: 45,
        seats_left: 3,
        note: null,
      });
      const shown = listed.map((s) => s.id);
      expect(shown).not.toContain(full.id);
      expect(shown).not.toContain(past.id);
      expect(shown).not.toContain(betaSlot.id);
      const onlyNorth = await call(
        target(),
        'GET',
        `/v1/public/tours/slots?school_id=${ids.north}`,
        {
          host: 'alpha.test',
        },
      );
      expect(onlyNorth.json.data.map((s: { id: string }) => s.id)).not.toContain(open.id);
      const beta = await call(target(), 'GET', '/v1/public/tours/slots', { host: 'beta.test' });
      const betaShown = beta.json.data.map((s: { id: string }) => s.id);
      expect(betaShown).toContain(betaSlot.id);
      expect(betaShown).not.toContain(open.id);
    });

    it('books a seat: the lead moves to tour_scheduled with the slot recorded; a repeat keeps one seat', async () => {
      const slot = await createSlot({ school_id: ids.north, starts_at: inDays(9), capacity: 2 });
      const body = family({ slot_id: slot.id });
      const r = await book(body);
      expect(r.status, r.text).toBe(201);
      const db = await staff.db();
      const lead = (
        await db.query(`select stage, school_id from leads where id = $1`, [r.json.lead_id])
      ).rows[0];
      expect(lead).toEqual({ stage: 'tour_scheduled', school_id: ids.north });
      const booking = (
        await db.query(
          `select b.touchpoint_id, t.details->>'slot_id' slot from tour_bookings b
             join lead_touchpoints t on t.id = b.touchpoint_id where b.slot_id = $1`,
          [slot.id],
        )
      ).rows;
      expect(booking).toEqual([{ touchpoint_id: expect.any(String), slot: slot.id }]);
      const again = await book(body);
      expect(again.status, again.text).toBe(201);
      expect(again.json.lead_id).toBe(r.json.lead_id);
      expect(await slotRow(slot.id)).toEqual({ booked: 1, capacity: 2, bookings: 1 });
    });

    it('refuses a full slot with 409 and records nothing for it', async () => {
      const slot = await createSlot({ school_id: ids.north, starts_at: inDays(10), capacity: 1 });
      expect((await book(family({ slot_id: slot.id }))).status).toBe(201);
      const late = family({ slot_id: slot.id });
      const r = await book(late);
      expectProblem(r, 409, 'conflict');
      const db = await staff.db();
      const leads = await db.query(`select 1 from leads where email = $1`, [late.email]);
      expect(leads.rowCount).toBe(0);
      expect(await slotRow(slot.id)).toEqual({ booked: 1, capacity: 1, bookings: 1 });
    });

    it('gives the last seats to exactly as many concurrent bookings as there are seats', async () => {
      for (const capacity of [1, 3]) {
        const slot = await createSlot({ school_id: ids.north, starts_at: inDays(11), capacity });
        const answers = await Promise.all(
          Array.from({ length: 8 }, () => book(family({ slot_id: slot.id }))),
        );
        const statuses = answers.map((a) => a.status).sort();
        expect(statuses, answers.map((a) => a.text).join('\n')).toEqual([
          ...Array(capacity).fill(201),
          ...Array(8 - capacity).fill(409),
        ]);
        expect(await slotRow(slot.id)).toEqual({ booked: capacity, capacity, bookings: capacity });
      }
    });

    it('refuses another tenant’s slot, another school’s slot on a school site, and a past slot', async () => {
      const alphaSlot = await createSlot({
        school_id: ids.north,
        starts_at: inDays(12),
        capacity: 5,
      });
      const cross = await book(family({ slot_id: alphaSlot.id }), 'beta.test');
      expectProblem(cross, 422, 'unprocessable');
      const wrongSchool = await book(family({ slot_id: alphaSlot.id, school_id: ids.south }));
      expectProblem(wrongSchool, 422, 'unprocessable');
      const past = await createSlot({ school_id: ids.north, starts_at: inDays(-2), capacity: 5 });
      expectProblem(await book(family({ slot_id: past.id })), 409, 'conflict');
      expectProblem(await book(family({ slot_id: randomUUID() })), 422, 'unprocessable');
      expect(await slotRow(alphaSlot.id)).toEqual({ booked: 0, capacity: 5, bookings: 0 });
    });
  });
}
