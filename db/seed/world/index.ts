import { DAY_MS, HOUR_MS, ymdOf } from '../dates.js';
import { hash32, IdSpace, Stream } from '../random.js';
import { buildYear } from './calendars.js';
import { buildClasses, buildCourses } from './classes.js';
import { pickDemo } from './demo.js';
import { buildEsa } from './esa.js';
import { buildFamilies } from './families.js';
import type { DemoLogins, World, WorldParams } from './model.js';
import { buildSchools } from './schools.js';
import { buildStaff } from './staff.js';
import { buildStudents } from './students.js';

/**
 * Builds the in-memory network for a preset, seed and as-of date: pure and deterministic.
 * Each builder in this folder fills its part of the world, in dependency order.
 */
export function buildWorld(params: WorldParams): World {
  const { preset, seed, asOf } = params;
  const idSeed = hash32(seed, Stream.ids, ...uuidWords(params.tenantId));
  const asOfYmd = ymdOf(asOf);
  // July belongs to the school year about to start: its sessions, rosters and calendars exist.
  const currentStart = asOfYmd.month >= 7 ? asOfYmd.year : asOfYmd.year - 1;
  const cutoffMs = asOf * DAY_MS + 20 * HOUR_MS;
  const years = [currentStart - 1, currentStart].map((y, idx) => buildYear(idSeed, idx, y));
  const setupMs = (years[0]!.startDay - 60) * DAY_MS + 15 * HOUR_MS;
  const ids = (table: number, capacity: number) => new IdSpace(idSeed, table, capacity);

  const world: World = {
    preset,
    seed,
    idSeed,
    asOf,
    cutoffMs,
    setupMs,
    years,
    regions: [],
    schools: [],
    students: [],
    families: [],
    guardians: [],
    staff: [],
    courses: [],
    classes: [],
    esaPrograms: [],
    esa: [],
    esaByStudentYear: new Map(),
    demo: undefined as unknown as DemoLogins,
    ids,
  };
  buildSchools(world);
  buildStudents(world);
  buildFamilies(world);
  buildCourses(world);
  buildClasses(world);
  buildStaff(world);
  buildEsa(world);
  world.demo = pickDemo(world);
  return world;
}

/** The four 32-bit words of a UUID (hex digits only; anything else is skipped). */
function uuidWords(id: string): number[] {
  const hex = id.replace(/[^0-9a-f]/gi, '').padEnd(32, '0');
  return [0, 8, 16, 24].map((at) => parseInt(hex.slice(at, at + 8), 16));
}
