import { isTimeZone } from '../../db/dates.js';
import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import { SCHOOL_KINDS } from '../../db/schema/org.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Tour slots as families meet them: the open ones (future, seats left, at an active
 * school) and the booking of a seat, which is safe under concurrency.
 */

const SCHOOL_KIND_LIST = sql.raw(SCHOOL_KINDS.map((k) => `'${k}'`).join(', '));

export interface OpenSlot {
  id: string;
  schoolId: string;
  schoolName: string;
  /** The school's time zone (else the tenant's). */
  timeZone: string;
  startsAt: Date;
  durationMinutes: number;
  seatsLeft: number;
  note: string | null;
}

/** How many open slots one answer lists at most (the nearest first). */
export const OPEN_SLOTS_LIMIT = 200;

/** Open slots of the given schools (all active schools when null), nearest first. */
export async function openSlots(
  tx: Tx<TenantSchema>,
  input: { schoolIds: readonly string[] | null; tenantTimeZone: string },
): Promise<OpenSlot[]> {
  const only =
    input.schoolIds === null
      ? sql``
      : input.schoolIds.length
        ? sql`and s.school_id in (${sql.join(
            input.schoolIds.map((id) => sql`${id}::uuid`),
            sql`, `,
          )})`
        : sql`and false`;
  const rows = rowsOf<{
    id: string;
    school_id: string;
    school_name: string;
    timezone: string | null;
    starts_at: string | Date;
    duration_minutes: number;
    seats_left: number;
    note: string | null;
  }>(
    await tx.execute(sql`
      select s.id, s.school_id, o.name as school_name, o.timezone, s.starts_at,
             s.duration_minutes, s.capacity - s.booked as seats_left, s.note
        from tour_slots s
        join org_units o on o.tenant_id = s.tenant_id and o.id = s.school_id
       where s.deleted_at is null and s.starts_at > now() and s.booked < s.capacity
         and o.kind in (${SCHOOL_KIND_LIST}) and o.status = 'active' and o.deleted_at is null
         ${only}
       order by s.starts_at, s.id
       limit ${OPEN_SLOTS_LIMIT}`),
  );
  return rows.map((r) => ({
    id: r.id,
    schoolId: r.school_id,
    schoolName: r.school_name,
    timeZone: validZone(r.timezone) ?? input.tenantTimeZone,
    startsAt: new Date(r.starts_at),
    durationMinutes: r.duration_minutes,
    seatsLeft: r.seats_left,
    note: r.note,
  }));
}

function validZone(zone: string | null): string | null {
  return zone && isTimeZone(zone) ? zone : null;
}

/** A moment as the school's wall clock: `YYYY-MM-DD` and `HH:MM`. */
export function localDateTime(at: Date, timeZone: string): { date: string; time: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}`,
  };
}

/** A slot a request names, whatever its state (null: no such slot in this tenant). */
export async function findSlot(
  tx: Tx<TenantSchema>,
  id: string,
): Promise<{ id: string; schoolId: string; startsAt: Date } | null> {
  const [row] = rowsOf<{ id: string; school_id: string; starts_at: string | Date }>(
    await tx.execute(
      sql`select id, school_id, starts_at from tour_slots where id = ${id} and deleted_at is null`,
    ),
  );
  return row ? { id: row.id, schoolId: row.school_id, startsAt: new Date(row.starts_at) } : null;
}

export type SeatResult = { booked: true; bookingId: string; repeat: boolean } | { booked: false };

/**
 * Gives a lead a seat on a slot, in the caller's transaction. The seat is taken by one
 * conditional update (`booked < capacity`, still in the future): PostgreSQL locks the slot
 * row, and a concurrent booking re-checks the condition against the committed count after
 * waiting — so of two bookings for the last seat exactly one wins. The same lead booking the
 * same slot again keeps its one seat. `{ booked: false }`: full or past; the caller must
 * roll back what it wrote for the booking.
 */
export async function bookSeat(
  tx: Tx<TenantSchema>,
  input: { tenantId: string; slotId: string; leadId: string; touchpointId: string },
): Promise<SeatResult> {
  const [fresh] = rowsOf<{ id: string }>(
    await tx.execute(sql`
      insert into tour_bookings (tenant_id, slot_id, lead_id, touchpoint_id)
      values (${input.tenantId}, ${input.slotId}, ${input.leadId}, ${input.touchpointId})
      on conflict (tenant_id, slot_id, lead_id) do nothing
      returning id`),
  );
  if (!fresh) {
    const [held] = rowsOf<{ id: string }>(
      await tx.execute(
        sql`select id from tour_bookings where slot_id = ${input.slotId} and lead_id = ${input.leadId}`,
      ),
    );
    return { booked: true, bookingId: held!.id, repeat: true };
  }
  const [seat] = rowsOf<{ booked: number }>(
    await tx.execute(sql`
      update tour_slots set booked = booked + 1
       where id = ${input.slotId} and deleted_at is null
         and booked < capacity and starts_at > now()
      returning booked`),
  );
  return seat ? { booked: true, bookingId: fresh.id, repeat: false } : { booked: false };
}
