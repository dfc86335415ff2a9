import type { TableSource } from '../copy.js';
import { localMs, MINUTE_MS, weekday } from '../dates.js';
import { EXCUSED_REASONS, TARDY_REASONS } from '../names.js';
import { IdSequence, rngFor, Stream } from '../random.js';
import { Table } from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * Daily attendance: one record per enrolled student and instructional day up to as-of,
 * drawn from the student's own stream.
 */

function attendanceRecords(t: TableContext): TableSource {
  const { world, ts, date } = t;
  const { schools, students } = world;
  return {
    table: 'attendance_records',
    columns: [
      'id',
      'student_id',
      'school_id',
      'date',
      'status',
      'reason',
      'marked_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.attendance, students.length * 2 * 180));
      // 08:00 local on each instructional day, per school and year: offsets need a date.
      const morning = schools.map((s) =>
        s.calendars.map((cal) => cal.instructional.map((d) => localMs(s.timezone, d, 8))),
      );
      for (const s of students) {
        for (let y = 0; y < 2; y++) {
          const e = s.enroll[y];
          if (!e) continue;
          const school = schools[e.schoolIdx]!;
          const cal = school.calendars[y]!;
          const base = morning[school.idx]![y]!;
          const rng = rngFor(world.seed, Stream.attendance, s.idx, y);
          const p = s.absence * rng.uniform(0.8, 1.2);
          const early = 0.015;
          const offset = ((s.idx * 7919) % 3000) * 1000;
          for (let i = 0; i < cal.instructional.length; i++) {
            const d = cal.instructional[i]!;
            if (d < e.entryDay) continue;
            if ((e.exitDay >= 0 && d > e.exitDay) || d > world.asOf) break;
            if (cal.noAttendance.has(d)) continue;
            // Mondays and Fridays see more absences than midweek; the mean stays at p.
            const w = weekday(d);
            const pd = p * (w === 5 ? 1.25 : w === 1 ? 1.1 : 0.88);
            const u = rng.float();
            let status: string;
            let reason: string | null = null;
            if (u < pd) {
              if (rng.chance(0.45)) {
                status = 'excused_absence';
                reason = rng.pick(EXCUSED_REASONS);
              } else {
                status = 'absent';
              }
            } else {
              const v = rng.float();
              if (v < s.tardy) {
                status = 'tardy';
                if (v < s.tardy * 0.3) reason = rng.pick(TARDY_REASONS);
              } else if (v < s.tardy + early) {
                status = 'early_departure';
                if (v < s.tardy + early / 2) reason = 'Medical appointment';
              } else {
                status = 'present';
              }
            }
            const at = ts(base[i]! + offset + (status === 'tardy' ? 40 * MINUTE_MS : 0));
            yield [ids.next(), s.id, school.id, date(d), status, reason, at, at, at];
          }
        }
      }
    },
  };
}

/** The attendance tables, in foreign-key order. */
export function attendanceTables(t: TableContext): TableSource[] {
  return [attendanceRecords(t)];
}
