import { STATES, STREETS } from '../names.js';
import type { GradeSpan } from '../presets.js';
import { rngFor, Stream } from '../random.js';
import { buildCalendar } from './calendars.js';
import { type School, SPAN_GRADES, type World } from './model.js';

/** The regions and schools of the preset, each with its two calendars. */

const SPAN_SUFFIX: Record<GradeSpan, string> = {
  'K-5': 'Elementary',
  '6-8': 'Middle School',
  '9-12': 'High School',
  'K-8': 'Academy',
};
const SPAN_TUITION: Record<GradeSpan, number> = {
  'K-5': 10_800_00,
  '6-8': 11_900_00,
  '9-12': 13_400_00,
  'K-8': 11_200_00,
};

export function buildSchools(world: World): void {
  const { preset, seed } = world;
  const states = preset.states.map((code) => {
    const s = STATES.find((x) => x.state === code);
    if (!s) throw new Error(`no seed data for state ${code}`);
    return s;
  });
  world.regions = states.map((state, idx) => ({
    idx,
    id: rngFor(world.idSeed, Stream.school, 1000 + idx).uuid(),
    state,
  }));
  const usedPlaces = new Map<number, number>();
  preset.schools.forEach((plan, idx) => {
    const rng = rngFor(seed, Stream.school, idx);
    const region = world.regions[idx % world.regions.length]!;
    const placeIdx = usedPlaces.get(region.idx) ?? 0;
    usedPlaces.set(region.idx, placeIdx + 1);
    const place = region.state.places[placeIdx % region.state.places.length]!;
    const micro = plan.kind === 'microschool';
    const name = micro ? `${place} Microschool` : `${place} ${SPAN_SUFFIX[plan.span]}`;
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const initials = name
      .split(/\s+/)
      .map((w) => w[0])
      .join('')
      .toUpperCase();
    const school: School = {
      idx,
      id: rngFor(world.idSeed, Stream.school, idx, 1).uuid(),
      name,
      code: `${region.state.state}-${initials}${String(idx + 1).padStart(2, '0')}`,
      kind: plan.kind,
      span: plan.span,
      region,
      timezone: region.state.timezone,
      grades: SPAN_GRADES[plan.span],
      perGrade: plan.perGrade * (micro ? 1 : rng.uniform(0.94, 1.06)),
      // One school per larger network is full and not taking inquiries on its site.
      enrollmentOpen: !(preset.schools.length > 4 && idx % 9 === 4),
      city: rng.pick(region.state.cities),
      street: `${rng.between(100, 9899)} ${rng.pick(STREETS)}`,
      slug,
      tuition:
        Math.round(
          ((micro ? 8_900_00 : SPAN_TUITION[plan.span]) * rng.uniform(0.92, 1.12)) / 10_000,
        ) * 10_000,
      calendars: [],
    };
    world.schools.push(school);
  });
  for (const school of world.schools) {
    school.calendars = world.years.map((year) => buildCalendar(world, school, year));
  }
}
