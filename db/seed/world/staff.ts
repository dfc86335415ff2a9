import { FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES } from '../names.js';
import { hashFloat, rngFor, Stream } from '../random.js';
import { emailPart } from './families.js';
import {
  bandOf,
  type ClassSection,
  type Staff,
  type StaffRole,
  Table,
  type World,
} from './model.js';

/** Staff per school: a principal, teachers for the sections, and support roles. */

const SECTIONS_PER_TEACHER = 5.5;

export function buildStaff(world: World): void {
  const { seed, schools, classes } = world;
  const ids = world.ids(Table.staff, Math.ceil(world.students.length / 8) + 200);
  const byTerm = new Map<string, ClassSection[]>();
  for (const c of classes) {
    const key = `${c.schoolIdx}:${c.yearIdx}:${c.termIdx}`;
    const list = byTerm.get(key) ?? [];
    list.push(c);
    byTerm.set(key, list);
  }
  for (const school of schools) {
    const rng = rngFor(seed, Stream.staff, school.idx);
    const enrolled = world.students.filter((s) => s.schoolIdx === school.idx).length;
    const add = (role: StaffRole, title: string, type: Staff['employmentType'] = 'full_time') => {
      const idx = world.staff.length;
      const female = rng.chance(0.7);
      const first = rng.pick(female ? FIRST_NAMES_F : FIRST_NAMES_M);
      const last = rng.pick(LAST_NAMES);
      const s: Staff = {
        idx,
        id: ids.at(idx),
        schoolIdx: school.idx,
        role,
        title,
        firstName: first,
        lastName: last,
        email: `${emailPart(first)}.${emailPart(last)}.${idx + 1}@staff.example.org`,
        employmentType: type,
        employmentStatus: rng.chance(0.02) ? 'on_leave' : 'active',
        subjects: new Set(),
        hireDay: world.years[0]!.startDay - rng.between(30, 365 * 15),
        userId: null,
      };
      world.staff.push(s);
      return s;
    };
    const micro = school.kind === 'microschool';
    add('principal', micro ? 'Head of School' : 'Principal').employmentStatus = 'active';
    if (enrolled > 500) add('assistant_principal', 'Assistant Principal');
    add('office', micro ? 'Operations Lead' : 'Office Manager');
    if (enrolled > 600) add('office', 'Registrar');
    if (enrolled > 300) add('counselor', 'School Counselor');

    const terms = [...byTerm.entries()].filter(([k]) => k.startsWith(`${school.idx}:`));
    const most = Math.max(1, ...terms.map(([, list]) => list.length));
    const teacherCount = Math.max(1, Math.ceil(most / SECTIONS_PER_TEACHER));
    const teachers = Array.from({ length: teacherCount }, (_, i) =>
      add(
        'teacher',
        micro ? 'Learning Guide' : 'Teacher',
        i % 11 === 10 ? 'part_time' : 'full_time',
      ),
    );
    const aides =
      enrolled > 200 ? [add('aide', 'Instructional Aide', 'part_time')] : ([] as Staff[]);
    if (enrolled > 150) add('teacher', 'Substitute Teacher', 'substitute');

    for (const [, list] of terms.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      // Subject order keeps each teacher on one or two subjects, term after term.
      const ordered = [...list].sort(
        (a, b) =>
          world.courses[a.courseIdx]!.subject.localeCompare(world.courses[b.courseIdx]!.subject) ||
          a.idx - b.idx,
      );
      ordered.forEach((c, k) => {
        const t = teachers[Math.floor((k * teacherCount) / ordered.length)]!;
        c.teachers.push({ staffIdx: t.idx, role: 'primary' });
        t.subjects.add(world.courses[c.courseIdx]!.subject);
        const r = hashFloat(seed, Stream.staff, c.idx);
        if (r < 0.03 && teacherCount > 1) {
          const co = teachers[(teachers.indexOf(t) + 1) % teacherCount]!;
          c.teachers.push({ staffIdx: co.idx, role: 'co_teacher' });
        } else if (
          r > 0.9 &&
          aides.length > 0 &&
          bandOf(world.courses[c.courseIdx]!.grades[0]!) === 0
        ) {
          c.teachers.push({ staffIdx: aides[0]!.idx, role: 'aide' });
        }
      });
    }
  }
}
