import { IdSpace, rngFor, Stream } from '../random.js';
import {
  BAND_LABELS,
  bandOf,
  type ClassSection,
  ClassStatus,
  GRADE_LABELS,
  type School,
  Table,
  type World,
} from './model.js';

/** Courses per school band and the class sections of each term, with their rosters. */

const CORE = ['english_language_arts', 'mathematics', 'science', 'social_studies'] as const;
const CORE_CODES = ['ELA', 'MATH', 'SCI', 'SS'];
const CORE_NAMES = ['English Language Arts', 'Mathematics', 'Science', 'Social Studies'];
const HIGH_SCHOOL: Record<string, { code: string; name: string }[]> = {
  english_language_arts: [9, 10, 11, 12].map((g) => ({ code: `ENG-${g}`, name: `English ${g}` })),
  mathematics: [
    { code: 'ALG1', name: 'Algebra I' },
    { code: 'GEOM', name: 'Geometry' },
    { code: 'ALG2', name: 'Algebra II' },
    { code: 'PRECALC', name: 'Precalculus' },
  ],
  science: [
    { code: 'BIO', name: 'Biology' },
    { code: 'CHEM', name: 'Chemistry' },
    { code: 'PHYS', name: 'Physics' },
    { code: 'ENVSCI', name: 'Environmental Science' },
  ],
  social_studies: [
    { code: 'WHIST', name: 'World History' },
    { code: 'USHIST', name: 'U.S. History' },
    { code: 'GOVECON', name: 'Government & Economics' },
    { code: 'CIVICS', name: 'Civics & Law' },
  ],
};
const ELECTIVES: { subject: string; code: string; name: string; bands: number[] }[] = [
  { subject: 'art', code: 'ART', name: 'Art', bands: [0, 1, 2, 3] },
  { subject: 'music', code: 'MUS', name: 'Music', bands: [0, 1, 2, 3] },
  { subject: 'physical_education', code: 'PE', name: 'Physical Education', bands: [0, 1, 2, 3] },
  { subject: 'world_languages', code: 'SPAN', name: 'Spanish', bands: [2, 3] },
  { subject: 'computer_science', code: 'CS', name: 'Computer Science', bands: [2, 3] },
];

interface CourseIndex {
  core: Map<string, number>; // `${subject}:${grade}`
  multiAge: Map<string, number>; // `${subject}:${band}`
  electives: Map<number, number[]>; // band → course idx
}
const courseIndex = new WeakMap<World, CourseIndex>();

export function buildCourses(world: World): void {
  const ids = world.ids(Table.course, 200);
  const index: CourseIndex = { core: new Map(), multiAge: new Map(), electives: new Map() };
  const add = (code: string, name: string, subject: string, grades: number[]): number => {
    const idx = world.courses.length;
    world.courses.push({
      idx,
      id: ids.at(idx),
      code,
      name,
      subject,
      credits: grades.every((g) => g >= 9) ? 0.5 : 1,
      grades,
    });
    return idx;
  };
  CORE.forEach((subject, si) => {
    for (let g = 0; g <= 12; g++) {
      const hs = g >= 9 ? HIGH_SCHOOL[subject]![g - 9]! : null;
      const label = g === 0 ? 'Kindergarten' : `Grade ${g}`;
      const idx = hs
        ? add(hs.code, hs.name, subject, [g])
        : add(`${CORE_CODES[si]}-${GRADE_LABELS[g]}`, `${label} ${CORE_NAMES[si]}`, subject, [g]);
      index.core.set(`${subject}:${g}`, idx);
    }
    for (let band = 0; band < 3; band++) {
      const grades = GRADE_LABELS.map((_, g) => g).filter((g) => bandOf(g) === band);
      const idx = add(
        `MA-${CORE_CODES[si]}-${BAND_LABELS[band]!.replace('-', '')}`,
        `Multi-age ${CORE_NAMES[si]} ${BAND_LABELS[band]}`,
        subject,
        grades,
      );
      index.multiAge.set(`${subject}:${band}`, idx);
    }
  });
  for (const e of ELECTIVES) {
    for (const band of e.bands) {
      const grades = GRADE_LABELS.map((_, g) => g).filter((g) => bandOf(g) === band);
      const idx = add(
        `${e.code}-${BAND_LABELS[band]!.replace('-', '')}`,
        `${e.name} ${BAND_LABELS[band]}`,
        e.subject,
        grades,
      );
      index.electives.set(band, [...(index.electives.get(band) ?? []), idx]);
    }
  }
  courseIndex.set(world, index);
}

/** Whether a school year's term has begun by as-of (classes of later terms do not exist yet). */
export function termStarted(world: World, yearIdx: number, termIdx: number): boolean {
  return world.years[yearIdx]!.terms[termIdx]!.startDay <= world.asOf;
}

export function buildClasses(world: World): void {
  const { seed, schools, students } = world;
  const index = courseIndex.get(world)!;
  // Upper bound: every student in ~7 sections of ~5 per term, two terms, two years.
  const ids = world.ids(Table.class, Math.ceil((students.length * 7 * 4) / 12) + 1000);
  for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
    for (let termIdx = 0; termIdx < 2; termIdx++) {
      if (!termStarted(world, yearIdx, termIdx)) continue;
      for (const school of schools) {
        const days = school.calendars[yearIdx]!.termDays[termIdx]!;
        const first = days[0]!;
        const last = days[days.length - 1]!;
        const micro = school.kind === 'microschool';
        // Cohorts: a grade in a school, a multi-age band in a microschool.
        const cohorts = new Map<number, number[]>();
        for (const s of students) {
          const e = s.enroll[yearIdx];
          if (!e || e.schoolIdx !== school.idx) continue;
          if (e.entryDay > last || (e.exitDay >= 0 && e.exitDay < first)) continue;
          const key = micro ? bandOf(e.grade) : e.grade;
          const list = cohorts.get(key) ?? [];
          list.push(s.idx);
          cohorts.set(key, list);
        }
        let period = 0;
        // Band-level courses (electives) are shared by several grade cohorts: number their
        // sections across the school's term, not per cohort.
        const sectionsSoFar = new Map<number, number>();
        for (const [key, members] of [...cohorts.entries()].sort((a, b) => a[0] - b[0])) {
          const band = micro ? key : bandOf(key);
          const core = CORE.map((subject) =>
            micro
              ? index.multiAge.get(`${subject}:${band}`)!
              : index.core.get(`${subject}:${key}`)!,
          );
          const electives = index.electives.get(band) ?? [];
          const takers = new Map<number, number[]>();
          for (const c of core) takers.set(c, [...members]);
          for (const k of members) {
            const r = rngFor(seed, Stream.roster, k, yearIdx * 2 + termIdx);
            const n = Math.min(electives.length, 1 + r.weighted([0.3, 0.45, 0.25]));
            const picks = r.shuffle([...electives]).slice(0, n);
            for (const c of picks) {
              const list = takers.get(c);
              if (list) list.push(k);
              else takers.set(c, [k]);
            }
          }
          for (const [courseIdx, list] of [...takers.entries()].sort((a, b) => a[0] - b[0])) {
            const cap = micro ? 16 : band <= 1 ? 24 : 28;
            const sections = Math.ceil(list.length / cap);
            const r = rngFor(
              seed,
              Stream.roster,
              1_000_000 + school.idx,
              courseIdx,
              yearIdx * 2 + termIdx,
            );
            const order = r.shuffle([...list]);
            const numbered = sectionsSoFar.get(courseIdx) ?? 0;
            sectionsSoFar.set(courseIdx, numbered + sections);
            for (let sec = 0; sec < sections; sec++) {
              const roster = order.filter((_, i) => i % sections === sec).sort((a, b) => a - b);
              world.classes.push(
                makeClass(
                  world,
                  ids,
                  school,
                  yearIdx,
                  termIdx,
                  courseIdx,
                  numbered + sec,
                  period++,
                  cap,
                  roster,
                  first,
                  last,
                ),
              );
            }
          }
        }
      }
    }
  }
}

function makeClass(
  world: World,
  ids: IdSpace,
  school: School,
  yearIdx: number,
  termIdx: number,
  courseIdx: number,
  section: number,
  period: number,
  capacity: number,
  roster: number[],
  firstDay: number,
  lastDay: number,
): ClassSection {
  const idx = world.classes.length;
  const n = roster.length;
  const cls: ClassSection = {
    idx,
    id: ids.at(idx),
    courseIdx,
    schoolIdx: school.idx,
    yearIdx,
    termIdx,
    section: String(section + 1).padStart(2, '0'),
    period: (period % 7) + 1,
    room: `Room ${100 * (1 + (period % 3)) + (period % 40) + 1}`,
    capacity,
    teachers: [],
    students: Int32Array.from(roster),
    entry: new Int32Array(n),
    exit: new Int32Array(n).fill(-1),
    status: new Uint8Array(n),
  };
  const termOver = lastDay <= world.asOf;
  const cal = school.calendars[yearIdx]!;
  const termDays = cal.termDays[termIdx]!;
  roster.forEach((k, i) => {
    const e = world.students[k]!.enroll[yearIdx]!;
    const rng = rngFor(world.seed, Stream.classEnrollment, idx, k);
    cls.entry[i] = Math.max(firstDay, e.entryDay);
    if (e.exitDay >= 0 && e.exitDay < lastDay) {
      cls.exit[i] = e.exitDay;
      cls.status[i] = ClassStatus.withdrawn;
      return;
    }
    if (rng.chance(0.012)) {
      // A schedule change: the student drops this section a few weeks in.
      const from = termDays.indexOf(cls.entry[i]!);
      const drop = termDays[Math.min(termDays.length - 1, Math.max(0, from) + rng.between(5, 30))]!;
      if (drop <= world.asOf && drop < lastDay) {
        cls.exit[i] = drop;
        cls.status[i] = ClassStatus.dropped;
        return;
      }
    }
    if (termOver) {
      cls.exit[i] = lastDay;
      cls.status[i] = ClassStatus.completed;
    }
  });
  return cls;
}
