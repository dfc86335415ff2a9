import { createHash } from 'node:crypto';
import type { TableSource } from './copy.js';
import { DAY_MS, DateFormat, HOUR_MS } from './dates.js';
import type { World } from './world/model.js';

/**
 * Published tour slots for the synthetic schools: every school open for enrollment offers
 * a morning tour each week for the six weeks after the as-of date, none booked yet. Ids derive from the school's id, so the same seed gives the same rows.
 */

const WEEKS = 6;
const CAPACITY = 8;

/** A UUID (version 4 layout) derived from a name. */
function uuidOf(name: string): string {
  const b = createHash('sha256').update(name).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function tourSlotTables(world: World): TableSource[] {
  const fmt = new DateFormat();
  const created = fmt.timestamp(world.asOf * DAY_MS);
  return [
    {
      table: 'tour_slots',
      columns: [
        'id',
        'school_id',
        'starts_at',
        'duration_minutes',
        'capacity',
        'booked',
        'note',
        'created_at',
        'updated_at',
      ],
      *rows() {
        for (const s of world.schools) {
          if (!s.enrollmentOpen) continue;
          for (let w = 0; w < WEEKS; w++) {
            // 16:30 UTC: mid-morning across the US time zones the synthetic schools use.
            const day = world.asOf + 2 + (s.idx % 5) + 7 * w;
            const startsAt = fmt.timestamp(day * DAY_MS + 16.5 * HOUR_MS);
            yield [
              uuidOf(`tour_slot\n${s.id}\n${w}`),
              s.id,
              startsAt,
              60,
              CAPACITY,
              0,
              w === 0 ? 'Meet at the front office.' : null,
              created,
              created,
            ];
          }
        }
      },
    },
  ];
}
