import type { TableSource } from '../copy.js';
import { HOUR_MS, MINUTE_MS } from '../dates.js';
import { IdSequence } from '../random.js';
import { atMost, DAY_KIND_NAMES, GRADE_LABELS, Table } from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * The network itself: its regions and schools (under the root org unit tenant creation
 * made), the two school years with their terms and grading periods, and each school's
 * calendar.
 */

function orgUnits(t: TableContext): TableSource {
  const { world, refs, ts } = t;
  const { schools } = world;
  return {
    table: 'org_units',
    columns: [
      'id',
      'parent_id',
      'kind',
      'name',
      'code',
      'timezone',
      'grade_levels',
      'enrollment_open',
      'status',
      'address',
      'phone',
      'website',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const r of world.regions) {
        const at = ts(world.setupMs + r.idx * MINUTE_MS);
        const grades = [
          ...new Set(schools.filter((s) => s.region === r).flatMap((s) => s.grades)),
        ].sort((a, b) => a - b);
        yield [
          r.id,
          refs.rootOrgUnitId,
          'region',
          `${r.state.region} Region`,
          r.state.state,
          r.state.timezone,
          grades.map((g) => GRADE_LABELS[g]!),
          false,
          'active',
          null,
          null,
          null,
          at,
          at,
        ];
      }
      for (const s of schools) {
        const at = ts(world.setupMs + (10 + s.idx) * MINUTE_MS);
        const address = JSON.stringify({
          line1: s.street,
          city: s.city.city,
          state: s.region.state.state,
          postal_code: s.city.zip,
        });
        yield [
          s.id,
          s.region.id,
          s.kind,
          s.name,
          s.code,
          s.timezone,
          s.grades.map((g) => GRADE_LABELS[g]!),
          s.enrollmentOpen,
          'active',
          address,
          `(${s.city.area}) 555-${String(100 + s.idx).padStart(4, '0')}`,
          `https://${s.slug}.example.org`,
          at,
          at,
        ];
      }
    },
  };
}

function academicSessions(t: TableContext): TableSource {
  const { world, refs, ts, date } = t;
  const { years } = world;
  return {
    table: 'academic_sessions',
    columns: [
      'id',
      'org_unit_id',
      'parent_id',
      'kind',
      'name',
      'start_date',
      'end_date',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const y of years) {
        const at = ts(atMost(world, y.setupMs));
        yield [
          y.id,
          refs.rootOrgUnitId,
          null,
          'school_year',
          y.name,
          date(y.startDay),
          date(y.endDay),
          at,
          at,
        ];
        for (const t of y.terms) {
          yield [
            t.id,
            refs.rootOrgUnitId,
            y.id,
            'term',
            t.name,
            date(t.startDay),
            date(t.endDay),
            at,
            at,
          ];
          for (const g of t.gradingPeriods) {
            yield [
              g.id,
              refs.rootOrgUnitId,
              t.id,
              'grading_period',
              g.name,
              date(g.startDay),
              date(g.endDay),
              at,
              at,
            ];
          }
        }
      }
    },
  };
}

function calendarDays(t: TableContext): TableSource {
  const { world, ts, date } = t;
  const { schools, years } = world;
  return {
    table: 'calendar_days',
    columns: ['id', 'school_id', 'session_id', 'date', 'kind', 'note', 'created_at', 'updated_at'],
    *rows() {
      const ids = new IdSequence(world.ids(Table.calendarDay, schools.length * 2 * 366));
      for (const s of schools) {
        for (const y of years) {
          const cal = s.calendars[y.idx]!;
          const at = ts(atMost(world, y.setupMs + HOUR_MS));
          for (let i = 0; i < cal.kinds.length; i++) {
            yield [
              ids.next(),
              s.id,
              y.id,
              date(cal.start + i),
              DAY_KIND_NAMES[cal.kinds[i]!]!,
              cal.notes[i]!,
              at,
              at,
            ];
          }
        }
      }
    },
  };
}

/** The org tables, in foreign-key order. */
export function orgTables(t: TableContext): TableSource[] {
  return [orgUnits(t), academicSessions(t), calendarDays(t)];
}
