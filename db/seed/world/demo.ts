import { type DemoLogins, Table, type World } from './model.js';

/** The demo logins: a principal, a teacher of a current class and a parent of active students. */

export function pickDemo(world: World): DemoLogins {
  const school = world.schools[0]!;
  const principal = world.staff.find((s) => s.schoolIdx === school.idx && s.role === 'principal')!;
  const teaching = new Set<number>();
  for (const c of world.classes) {
    if (c.schoolIdx === school.idx && c.yearIdx === 1) {
      for (const t of c.teachers) if (t.role === 'primary') teaching.add(t.staffIdx);
    }
  }
  const teacher =
    world.staff.find((s) => s.role === 'teacher' && teaching.has(s.idx)) ??
    world.staff.find((s) => s.schoolIdx === school.idx && s.role === 'teacher')!;
  const activeAt = (k: number) => {
    const s = world.students[k]!;
    return s.status === 'active' && s.schoolIdx === school.idx;
  };
  const family =
    world.families.find((f) => f.students.length >= 2 && f.students.every(activeAt)) ??
    world.families.find((f) => f.students.some(activeAt)) ??
    world.families[0]!;
  const parent = world.guardians[family.guardians[0]!]!;
  const users = world.ids(Table.user, 16);
  principal.userId = users.at(0);
  teacher.userId = users.at(1);
  parent.userId = users.at(2);
  const emails = {
    principal: 'principal@demo.example.org',
    teacher: 'teacher@demo.example.org',
    parent: 'parent@demo.example.org',
  };
  principal.email = emails.principal;
  teacher.email = emails.teacher;
  parent.email = emails.parent;
  return {
    principalStaffIdx: principal.idx,
    teacherStaffIdx: teacher.idx,
    parentGuardianIdx: parent.idx,
    principalUserId: principal.userId,
    teacherUserId: teacher.userId,
    parentUserId: parent.userId,
    emails,
  };
}
