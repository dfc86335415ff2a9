import { DAY_MS, dayOf, HOUR_MS, isWeekend, nthWeekday } from '../dates.js';
import { rngFor, Stream } from '../random.js';
import {
  DayKind,
  INSTRUCTIONAL_DAYS,
  type School,
  type SchoolCalendar,
  type SchoolYear,
  type Term,
  type World,
} from './model.js';

/** School years (terms, grading periods) and each school's calendar for a year. */

/** A school year with its terms and grading periods; `idSeed` draws their ids (all it draws). */
export function buildYear(idSeed: number, idx: number, startYear: number): SchoolYear {
  const rng = rngFor(idSeed, Stream.world, 100 + idx);
  const short = String((startYear + 1) % 100).padStart(2, '0');
  const startDay = dayOf(startYear, 8, 1);
  const endDay = dayOf(startYear + 1, 6, 30);
  const terms: Term[] = [
    { start: startDay, end: dayOf(startYear, 12, 31), name: `Fall ${startYear}` },
    { start: dayOf(startYear + 1, 1, 1), end: endDay, name: `Spring ${startYear + 1}` },
  ].map((t, termIdx) => {
    const mid = termIdx === 0 ? dayOf(startYear, 10, 15) : dayOf(startYear + 1, 3, 15);
    return {
      idx: termIdx,
      id: rng.uuid(),
      name: t.name,
      startDay: t.start,
      endDay: t.end,
      gradingPeriods: [
        {
          id: rng.uuid(),
          name: `Q${termIdx * 2 + 1} ${startYear}–${short}`,
          startDay: t.start,
          endDay: mid,
        },
        {
          id: rng.uuid(),
          name: `Q${termIdx * 2 + 2} ${startYear}–${short}`,
          startDay: mid + 1,
          endDay: t.end,
        },
      ],
    };
  });
  return {
    idx,
    id: rng.uuid(),
    startYear,
    name: `${startYear}–${short}`,
    startDay,
    endDay,
    terms,
    setupMs: (startDay - 75) * DAY_MS + 16 * HOUR_MS,
  };
}

/**
 * One school's calendar for one year: weekends, holidays and breaks first, then exactly 180
 * instructional days from the region's first day; weekdays left over are summer.
 */
export function buildCalendar(world: World, school: School, year: SchoolYear): SchoolCalendar {
  const rng = rngFor(world.seed, Stream.calendar, school.idx, year.idx);
  const y = year.startYear;
  const len = year.endDay - year.startDay + 1;
  const kinds = new Uint8Array(len).fill(255);
  const notes: (string | null)[] = new Array<string | null>(len).fill(null);
  const set = (day: number, kind: number, note: string) => {
    const i = day - year.startDay;
    if (i >= 0 && i < len && kinds[i] === 255 && !isWeekend(day)) {
      kinds[i] = kind;
      notes[i] = note;
    }
  };
  let first = dayOf(y, 8, school.region.state.firstDay);
  while (isWeekend(first)) first++;

  set(nthWeekday(y, 9, 1, 1), DayKind.holiday, 'Labor Day');
  set(dayOf(y, 11, 11), DayKind.holiday, 'Veterans Day');
  const thanksgiving = nthWeekday(y, 11, 4, 4);
  set(thanksgiving, DayKind.holiday, 'Thanksgiving');
  set(thanksgiving + 1, DayKind.holiday, 'Day after Thanksgiving');
  for (let d = thanksgiving - 3; d < thanksgiving; d++) set(d, DayKind.break, 'Thanksgiving break');
  set(dayOf(y, 12, 25), DayKind.holiday, 'Christmas Day');
  set(dayOf(y + 1, 1, 1), DayKind.holiday, 'New Year’s Day');
  for (let d = dayOf(y, 12, 22); d <= dayOf(y + 1, 1, 2); d++)
    set(d, DayKind.break, 'Winter break');
  set(nthWeekday(y + 1, 1, 1, 3), DayKind.holiday, 'Martin Luther King Jr. Day');
  set(nthWeekday(y + 1, 2, 1, 3), DayKind.holiday, 'Presidents’ Day');
  const spring = nthWeekday(y + 1, 3, 1, 2);
  for (let d = spring; d < spring + 5; d++) set(d, DayKind.break, 'Spring break');
  set(nthWeekday(y + 1, 5, 1, -1), DayKind.holiday, 'Memorial Day');
  set(dayOf(y + 1, 6, 19), DayKind.holiday, 'Juneteenth');
  set(nthWeekday(y, 10, 1, 2), DayKind.teacherWorkday, 'Professional development');
  set(nthWeekday(y + 1, 2, 5, 1), DayKind.teacherWorkday, 'Professional development');
  for (let d = first - 1, n = 0; n < 3; d--) {
    if (!isWeekend(d)) {
      set(d, DayKind.teacherWorkday, 'Teacher work day');
      n++;
    }
  }
  // Weather: snow in Utah and Texas winters, a hurricane day in Florida; Arizona rarely.
  const closures = school.region.state.state === 'AZ' ? 0 : rng.weighted([0.45, 0.4, 0.15]);
  for (let i = 0; i < closures; i++) {
    const month = school.region.state.state === 'FL' ? 9 : rng.pick([12, 1, 2]);
    const yy = month >= 8 ? y : y + 1;
    set(dayOf(yy, month, rng.between(3, 26)), DayKind.weatherClosure, 'Weather closure');
  }

  const instructional: number[] = [];
  let gradesDue = false;
  for (let i = 0; i < len; i++) {
    const day = year.startDay + i;
    if (isWeekend(day)) {
      kinds[i] = DayKind.break;
      notes[i] = 'Weekend';
      continue;
    }
    if (kinds[i] !== 255) continue;
    if (day >= first && instructional.length < INSTRUCTIONAL_DAYS) {
      kinds[i] = DayKind.instructional;
      instructional.push(day);
    } else if (day > first && !gradesDue) {
      kinds[i] = DayKind.teacherWorkday;
      notes[i] = 'Teacher work day (grades due)';
      gradesDue = true;
    } else {
      kinds[i] = DayKind.break;
      notes[i] = 'Summer break';
    }
  }
  if (instructional.length !== INSTRUCTIONAL_DAYS) {
    throw new Error(`calendar of ${school.code} ${year.name} has ${instructional.length} days`);
  }
  const termDays = year.terms.map((t) =>
    instructional.filter((d) => d >= t.startDay && d <= t.endDay),
  );
  const past = instructional.filter((d) => d <= world.asOf);
  const noAttendance = new Set<number>();
  const skips = Math.min(past.length, Math.max(1, Math.round(past.length / 90)));
  for (let i = 0; i < skips; i++) noAttendance.add(rng.pick(past));
  return { start: year.startDay, kinds, notes, instructional, termDays, noAttendance };
}
