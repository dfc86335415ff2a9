import { DAY_MS, dayOf, isWeekend, localMs } from '../dates.js';
import { DENIAL_NOTES } from '../names.js';
import { rngFor, Stream, type Rng } from '../random.js';
import {
  type Enrollment,
  type EsaApplication,
  type EsaDisbursement,
  type EsaProgram,
  type EsaStatus,
  INSTRUCTIONAL_DAYS,
  type SchoolYear,
  Table,
  type World,
} from './model.js';

/** ESA programs and the applications, awards and disbursements of eligible students. */

const ESA_PROGRAMS: Omit<EsaProgram, 'idx' | 'id'>[] = [
  { state: 'AZ', name: 'Empowerment Scholarship Account', award: 7_400_00, since: 2011 },
  {
    state: 'FL',
    name: 'Family Empowerment Scholarship – Educational Options',
    award: 8_200_00,
    since: 2019,
  },
  {
    state: 'FL',
    name: 'Family Empowerment Scholarship – Unique Abilities',
    award: 10_400_00,
    since: 2021,
  },
  { state: 'UT', name: 'Utah Fits All Scholarship', award: 8_000_00, since: 2024 },
  { state: 'TX', name: 'Texas Education Freedom Accounts', award: 10_474_00, since: 2026 },
];

export function buildEsa(world: World): void {
  const { seed, students, schools, years } = world;
  const ids = world.ids(Table.esaProgram, 16);
  world.esaPrograms = ESA_PROGRAMS.map((p, idx) => ({ ...p, idx, id: ids.at(idx) }));
  const ordinals = { disbursement: 0 };
  for (const s of students) {
    for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
      const e = s.enroll[yearIdx];
      if (!e) continue;
      const school = schools[e.schoolIdx]!;
      const year = years[yearIdx]!;
      const rng = rngFor(seed, Stream.esa, s.idx, yearIdx);
      const state = school.region.state.state;
      const options = world.esaPrograms.filter(
        (p) => p.state === state && p.since <= year.startYear,
      );
      if (options.length === 0 || !rng.chance(s.iep ? 0.6 : 0.38)) continue;
      const program =
        options.length > 1
          ? (options.find((p) => p.award > 9_000_00 && s.iep) ?? options[0]!)
          : options[0]!;
      // Families apply in the spring before the year, or right after a mid-year start.
      const opened = e.midYearEntry
        ? e.entryDay - rng.between(0, 10)
        : dayOf(year.startYear, 2, 1) + rng.int(170);
      const createdMs = localMs(school.timezone, opened, rng.uniform(8, 22));
      if (createdMs > world.cutoffMs) continue;
      const fraction = e.midYearEntry
        ? (INSTRUCTIONAL_DAYS - school.calendars[yearIdx]!.instructional.indexOf(e.entryDay)) /
          INSTRUCTIONAL_DAYS
        : 1;
      const requested = Math.round((program.award * fraction) / 100) * 100;
      const staysDraft = rng.chance(0.04);
      const submittedMs = createdMs + rng.between(0, 20) * DAY_MS + rng.int(8 * 3600) * 1000;
      const reviewMs = submittedMs + rng.between(2, 10) * DAY_MS;
      const decidedMs = reviewMs + rng.between(5, 60) * DAY_MS + rng.int(6 * 3600) * 1000;
      const approved = rng.chance(s.iep ? 0.9 : 0.84);
      const withdrawMs = rng.chance(0.06)
        ? createdMs + rng.uniform(0.2, 0.9) * (decidedMs - createdMs)
        : Infinity;
      const now = world.cutoffMs;
      let status: EsaStatus;
      let updatedMs: number;
      if (withdrawMs <= now) {
        status = 'withdrawn';
        updatedMs = withdrawMs;
      } else if (staysDraft || submittedMs > now) {
        status = 'draft';
        updatedMs = createdMs;
      } else if (decidedMs <= now) {
        status = approved ? 'approved' : 'denied';
        updatedMs = decidedMs;
      } else if (reviewMs <= now) {
        status = 'under_review';
        updatedMs = reviewMs;
      } else {
        status = 'submitted';
        updatedMs = submittedMs;
      }
      const submitted =
        status === 'draft' || (status === 'withdrawn' && (staysDraft || submittedMs > withdrawMs))
          ? null
          : submittedMs;
      const awarded =
        status === 'approved'
          ? rng.chance(0.9)
            ? requested
            : Math.round((requested * rng.uniform(0.8, 0.97)) / 100) * 100
          : null;
      const app: EsaApplication = {
        ordinal: world.esa.length,
        studentIdx: s.idx,
        yearIdx,
        programIdx: program.idx,
        schoolIdx: school.idx,
        status,
        requested,
        awarded,
        createdMs,
        submittedMs: submitted,
        decidedMs: status === 'approved' || status === 'denied' ? decidedMs : null,
        updatedMs: Math.floor(updatedMs),
        note: status === 'denied' ? rng.pick(DENIAL_NOTES) : null,
        disbursements: [],
      };
      if (status === 'approved' && awarded !== null && awarded > 0) {
        scheduleDisbursements(world, app, e, year, { awarded, decidedMs }, rng, ordinals);
      }
      world.esa.push(app);
      world.esaByStudentYear.set(s.idx * 2 + yearIdx, app);
    }
  }
}

/**
 * An approved award paid in four quarterly disbursements, none before ten days after the
 * decision; those after the student left are cancelled, those after as-of still scheduled.
 */
function scheduleDisbursements(
  world: World,
  app: EsaApplication,
  e: Enrollment,
  year: SchoolYear,
  decision: { awarded: number; decidedMs: number },
  rng: Rng,
  ordinals: { disbursement: number },
): void {
  const { awarded, decidedMs } = decision;
  const decidedDay = Math.floor(decidedMs / DAY_MS);
  const quarters = [
    dayOf(year.startYear, 7, 15),
    dayOf(year.startYear, 10, 15),
    dayOf(year.startYear + 1, 1, 15),
    dayOf(year.startYear + 1, 4, 15),
  ];
  const share = Math.floor(awarded / 4 / 100) * 100;
  quarters.forEach((q, i) => {
    const amount = i === 3 ? awarded - share * 3 : share;
    if (amount <= 0) return;
    let scheduled = Math.max(q, decidedDay + 10);
    while (isWeekend(scheduled)) scheduled++;
    const paidOn = scheduled + rng.between(0, 3);
    const left =
      e.exitDay >= 0 &&
      e.exitDay < scheduled &&
      e.status !== 'completed' &&
      e.status !== 'graduated';
    const status: EsaDisbursement['status'] = left
      ? 'cancelled'
      : paidOn <= world.asOf
        ? 'disbursed'
        : 'scheduled';
    app.disbursements.push({
      ordinal: ordinals.disbursement++,
      amount,
      scheduledDay: scheduled,
      disbursedDay: status === 'disbursed' ? paidOn : -1,
      status,
    });
  });
}
