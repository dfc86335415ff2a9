import type { TableSource } from '../copy.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../dates.js';
import { hashFloat, IdSequence, Stream } from '../random.js';
import { atMost, GRADE_LABELS, Table, type World } from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * People: the demo logins and their roles, guardians, students and their guardian links,
 * and staff.
 */

/** The demo logins' people: the principal and teacher (staff) and the parent (a guardian). */
export function demoPeople(world: World) {
  const demo = world.demo;
  return {
    demo,
    principal: world.staff[demo.principalStaffIdx]!,
    teacher: world.staff[demo.teacherStaffIdx]!,
    parent: world.guardians[demo.parentGuardianIdx]!,
  };
}

function users(t: TableContext): TableSource {
  const { world, refs, ts } = t;
  const { demo, principal, teacher, parent } = demoPeople(world);
  return {
    table: 'users',
    columns: [
      'id',
      'email',
      'password_hash',
      'first_name',
      'last_name',
      'phone',
      'status',
      'failed_login_count',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const at = (n: number) => ts(world.setupMs + (60 + n) * MINUTE_MS);
      yield [
        demo.principalUserId,
        demo.emails.principal,
        refs.passwordHashes.principal,
        principal.firstName,
        principal.lastName,
        null,
        'active',
        0,
        at(0),
        at(0),
      ];
      yield [
        demo.teacherUserId,
        demo.emails.teacher,
        refs.passwordHashes.teacher,
        teacher.firstName,
        teacher.lastName,
        null,
        'active',
        0,
        at(1),
        at(1),
      ];
      const family = world.families[parent.familyIdx]!;
      const joined = ts(family.createdMs);
      yield [
        demo.parentUserId,
        demo.emails.parent,
        refs.passwordHashes.parent,
        parent.firstName,
        parent.lastName,
        parent.phone,
        'active',
        0,
        joined,
        joined,
      ];
    },
  };
}

function userRoles(t: TableContext): TableSource {
  const { world, refs, ts } = t;
  const { schools } = world;
  const { demo, principal, teacher, parent } = demoPeople(world);
  return {
    table: 'user_roles',
    columns: ['id', 'user_id', 'role_id', 'org_unit_id', 'created_at', 'updated_at'],
    *rows() {
      const ids = world.ids(Table.userRole, 16);
      const school = schools[principal.schoolIdx]!.id;
      const at = ts(world.setupMs + 70 * MINUTE_MS);
      yield [ids.at(0), demo.principalUserId, refs.roleIds.principal, school, at, at];
      yield [
        ids.at(1),
        demo.teacherUserId,
        refs.roleIds.teacher,
        schools[teacher.schoolIdx]!.id,
        at,
        at,
      ];
      const joined = ts(world.families[parent.familyIdx]!.createdMs);
      yield [ids.at(2), demo.parentUserId, refs.roleIds.parent, null, joined, joined];
    },
  };
}

function guardians(t: TableContext): TableSource {
  const { world, ts } = t;
  return {
    table: 'guardians',
    columns: [
      'id',
      'user_id',
      'first_name',
      'last_name',
      'email',
      'phone',
      'address',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const g of world.guardians) {
        const f = world.families[g.familyIdx]!;
        const at = ts(f.createdMs);
        const address = JSON.stringify({
          line1: f.street,
          city: f.city.city,
          state: f.state,
          postal_code: f.city.zip,
        });
        yield [g.id, g.userId, g.firstName, g.lastName, g.email, g.phone, address, at, at];
      }
    },
  };
}

function studentRows(t: TableContext): TableSource {
  const { world, ts, date } = t;
  const { schools, students } = world;
  return {
    table: 'students',
    columns: [
      'id',
      'user_id',
      'student_number',
      'first_name',
      'middle_name',
      'last_name',
      'preferred_name',
      'date_of_birth',
      'gender',
      'grade_level',
      'school_id',
      'status',
      'iep',
      'section_504',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const s of students) {
        yield [
          s.id,
          null,
          s.number,
          s.firstName,
          s.middleName,
          s.lastName,
          s.preferredName,
          date(s.dob),
          s.gender,
          GRADE_LABELS[s.grade]!,
          schools[s.schoolIdx]!.id,
          s.status,
          s.iep,
          s.section504,
          ts(s.createdMs),
          ts(s.updatedMs),
        ];
      }
    },
  };
}

function studentGuardians(t: TableContext): TableSource {
  const { world, ts } = t;
  const { students } = world;
  return {
    table: 'student_guardians',
    columns: [
      'id',
      'student_id',
      'guardian_id',
      'relationship',
      'is_primary',
      'can_pickup',
      'lives_with',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.studentGuardian, students.length * 2));
      for (const s of students) {
        const f = world.families[s.familyIdx]!;
        const at = ts(s.createdMs);
        for (let i = 0; i < f.guardians.length; i++) {
          const g = world.guardians[f.guardians[i]!]!;
          const u = hashFloat(world.seed, Stream.guardian, s.idx, i);
          yield [
            ids.next(),
            s.id,
            g.id,
            g.relationship,
            i === 0,
            u > 0.02,
            i === 0 || u > 0.1,
            at,
            at,
          ];
        }
      }
    },
  };
}

function staffRows(t: TableContext): TableSource {
  const { world, ts, date } = t;
  const { schools } = world;
  return {
    table: 'staff',
    columns: [
      'id',
      'user_id',
      'employee_number',
      'first_name',
      'last_name',
      'email',
      'school_id',
      'title',
      'employment_status',
      'employment_type',
      'subjects',
      'hire_date',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const s of world.staff) {
        const at = ts(
          atMost(world, Math.max(world.setupMs, (s.hireDay - 14) * DAY_MS + 17 * HOUR_MS)),
        );
        yield [
          s.id,
          s.userId,
          `E${10001 + s.idx}`,
          s.firstName,
          s.lastName,
          s.email,
          schools[s.schoolIdx]!.id,
          s.title,
          s.employmentStatus,
          s.employmentType,
          [...s.subjects].sort(),
          date(s.hireDay),
          at,
          at,
        ];
      }
    },
  };
}

/** The people tables, in foreign-key order. */
export function peopleTables(t: TableContext): TableSource[] {
  return [users(t), userRoles(t), guardians(t), studentRows(t), studentGuardians(t), staffRows(t)];
}
