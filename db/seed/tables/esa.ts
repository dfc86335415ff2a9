import type { TableSource } from '../copy.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../dates.js';
import { atMost, Table, type World } from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * ESA: the state programs, applications and their scheduled disbursements.
 */

/** Id spaces of ESA applications and disbursements (payments point at disbursements too). */
export function esaIds(world: World) {
  return {
    applicationIds: world.ids(Table.esaApplication, world.esa.length),
    disbursementIds: world.ids(Table.esaDisbursement, world.esa.length * 4),
  };
}

function esaPrograms(t: TableContext): TableSource {
  const { world, ts } = t;
  return {
    table: 'esa_programs',
    columns: ['id', 'name', 'state', 'award_amount_cents', 'created_at', 'updated_at'],
    *rows() {
      for (const p of world.esaPrograms) {
        const at = ts(world.setupMs + (200 + p.idx) * MINUTE_MS);
        yield [p.id, p.name, p.state, p.award, at, at];
      }
    },
  };
}

function esaApplications(t: TableContext): TableSource {
  const { world, ts } = t;
  const { schools, students, years } = world;
  const { applicationIds } = esaIds(world);
  return {
    table: 'esa_applications',
    columns: [
      'id',
      'student_id',
      'program_id',
      'session_id',
      'school_id',
      'status',
      'amount_requested_cents',
      'amount_awarded_cents',
      'submitted_at',
      'decided_at',
      'decision_note',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const a of world.esa) {
        yield [
          applicationIds.at(a.ordinal),
          students[a.studentIdx]!.id,
          world.esaPrograms[a.programIdx]!.id,
          years[a.yearIdx]!.id,
          schools[a.schoolIdx]!.id,
          a.status,
          a.requested,
          a.awarded,
          a.submittedMs === null ? null : ts(a.submittedMs),
          a.decidedMs === null ? null : ts(a.decidedMs),
          a.note,
          ts(a.createdMs),
          ts(a.updatedMs),
        ];
      }
    },
  };
}

function esaDisbursements(t: TableContext): TableSource {
  const { world, ts, date, dateOrNull } = t;
  const { applicationIds, disbursementIds } = esaIds(world);
  return {
    table: 'esa_disbursements',
    columns: [
      'id',
      'application_id',
      'amount_cents',
      'scheduled_on',
      'disbursed_on',
      'status',
      'reference',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const a of world.esa) {
        const state = world.esaPrograms[a.programIdx]!.state;
        const created = a.decidedMs!;
        for (const d of a.disbursements) {
          const updated =
            d.status === 'disbursed'
              ? d.disbursedDay * DAY_MS + 15 * HOUR_MS
              : d.status === 'cancelled'
                ? atMost(world, Math.max(created, d.scheduledDay * DAY_MS - 5 * DAY_MS))
                : created;
          yield [
            disbursementIds.at(d.ordinal),
            applicationIds.at(a.ordinal),
            d.amount,
            date(d.scheduledDay),
            dateOrNull(d.disbursedDay),
            d.status,
            d.status === 'disbursed'
              ? `${state}-DSB-${String(d.ordinal + 1).padStart(7, '0')}`
              : null,
            ts(created),
            ts(Math.max(created, updated)),
          ];
        }
      }
    },
  };
}

/** The esa tables, in foreign-key order. */
export function esaTables(t: TableContext): TableSource[] {
  return [esaPrograms(t), esaApplications(t), esaDisbursements(t)];
}
