import { FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES, STREETS } from '../names.js';
import { hashFloat, Rng, rngFor, Stream } from '../random.js';
import { type Family, type PayerProfile, type Student, Table, type World } from './model.js';

/** Families and guardians: students grouped into households, with payer profiles. */

const NICKNAMES: Record<string, string> = {
  Alexander: 'Alex',
  Benjamin: 'Ben',
  William: 'Will',
  Elizabeth: 'Liz',
  Matthew: 'Matt',
  Samuel: 'Sam',
  Theodore: 'Teddy',
  Isabella: 'Bella',
  Penelope: 'Penny',
  Abigail: 'Abby',
  Valentina: 'Vale',
  Nathaniel: 'Nate',
  Michael: 'Mike',
};

/** Lower-case ASCII for the local part of a synthetic email address. */
export function emailPart(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

function firstNameFor(rng: Rng, gender: Student['gender']): string {
  if (gender === 'female') return rng.pick(FIRST_NAMES_F);
  if (gender === 'male') return rng.pick(FIRST_NAMES_M);
  return rng.pick(rng.chance(0.5) ? FIRST_NAMES_F : FIRST_NAMES_M);
}

/** Low-discrepancy uniform for an index: keeps category shares exact even for 40 families. */
function spread(seed: number, idx: number, salt: number): number {
  const x = (idx + 1) * 0.6180339887498949 + hashFloat(seed, salt);
  return x - Math.floor(x);
}

function payerProfile(u: number): PayerProfile {
  if (u < 0.45) return 'autopay';
  if (u < 0.74) return 'prompt';
  if (u < 0.9) return 'late';
  if (u < 0.97) return 'delinquent';
  return 'defaulting';
}

export function buildFamilies(world: World): void {
  const { seed, students, schools } = world;
  const rng = rngFor(seed, Stream.family, 0);
  // Siblings live in one state; group students by the region of their (last) school.
  const byRegion = new Map<number, number[]>();
  for (const s of students) {
    const r = schools[s.schoolIdx]!.region.idx;
    const list = byRegion.get(r) ?? [];
    list.push(s.idx);
    byRegion.set(r, list);
  }
  const guardianIds = world.ids(Table.guardian, Math.ceil(students.length * 1.5));
  for (const [regionIdx, members] of [...byRegion.entries()].sort((a, b) => a[0] - b[0])) {
    rng.shuffle(members);
    const region = world.regions[regionIdx]!;
    let i = 0;
    while (i < members.length) {
      const size = Math.min(members.length - i, 1 + rng.weighted([0.72, 0.22, 0.06]));
      const kids = members.slice(i, i + size).sort((a, b) => a - b);
      i += size;
      const idx = world.families.length;
      const frng = rngFor(seed, Stream.family, idx, 1);
      const lastName = frng.pick(LAST_NAMES);
      const family: Family = {
        idx,
        lastName,
        students: kids,
        guardians: [],
        street: `${frng.between(100, 9899)} ${frng.pick(STREETS)}`,
        city: frng.pick(region.state.cities),
        state: region.state.state,
        planMonths: frng.chance(0.35) ? 12 : 10,
        payer: payerProfile(spread(seed, idx, 77)),
        createdMs: Math.min(...kids.map((k) => students[k]!.createdMs)),
      };
      world.families.push(family);
      kids.forEach((k, order) => {
        const s = students[k]!;
        const srng = rngFor(seed, Stream.student, k, 5);
        s.familyIdx = idx;
        s.siblingOrder = order;
        s.firstName = firstNameFor(srng, s.gender);
        s.lastName = srng.chance(0.9) ? lastName : srng.pick(LAST_NAMES);
        s.middleName = srng.chance(0.6) ? firstNameFor(srng, s.gender) : null;
        s.preferredName =
          NICKNAMES[s.firstName] && srng.chance(0.5) ? NICKNAMES[s.firstName]! : null;
      });
      const two = frng.chance(0.72);
      const firstIsMother = frng.chance(0.55);
      const relationships = two
        ? [
            firstIsMother ? 'mother' : 'father',
            frng.chance(0.85) ? (firstIsMother ? 'father' : 'mother') : 'stepparent',
          ]
        : [frng.pick(['mother', 'mother', 'father', 'grandparent', 'guardian', 'foster_parent'])];
      for (const relationship of relationships) {
        const gIdx = world.guardians.length;
        const female = relationship === 'mother' || (relationship !== 'father' && frng.chance(0.6));
        const first = frng.pick(female ? FIRST_NAMES_F : FIRST_NAMES_M);
        const last = frng.chance(0.85) ? lastName : frng.pick(LAST_NAMES);
        world.guardians.push({
          idx: gIdx,
          id: guardianIds.at(gIdx),
          familyIdx: idx,
          firstName: first,
          lastName: last,
          email: `${emailPart(first)}.${emailPart(last)}.${gIdx + 1}@${frng.pick(['example.com', 'example.net', 'example.org'])}`,
          phone: `+1-${family.city.area}-555-${String(100 + frng.int(100)).padStart(4, '0')}`,
          relationship,
          userId: null,
        });
        family.guardians.push(gIdx);
      }
    }
  }
}
