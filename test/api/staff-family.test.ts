import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { expectProblem } from '../support/staff.js';

/**
 * Guardians (and student links), staff, org units, sessions, calendars, users and roles on
 * Node and in workerd: a happy, an error and a security case for each.
 */

const ALPHA = 'alpha.test';

const h = await Harness.init('staff_family_api');
const { staff } = h;

const {
  root,
  north,
  south,
  admin,
  principal,
  teacher,
  parent,
  kid,
  otherKid,
  ownGuardian,
  otherGuardian,
  betaSchool,
  betaGuardian,
} = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const root = await staff.root(a);
  const north = await staff.school(a, 'North');
  const south = await staff.school(a, 'South');
  const admin = await h.admin('alpha');
  const principal = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const parent = await staff.person(a, [{ role: 'parent' }]);
  const kid = await staff.student(a, north);
  const otherKid = await staff.student(a, south);
  const ownGuardian = await staff.guardian(a, [kid], { userId: parent.userId });
  const otherGuardian = await staff.guardian(a, [otherKid]);
  await staff.classTaughtBy(a, north, teacher.userId, [kid]);
  const betaSchool = await staff.school(h.tenants.beta.id, 'Beta');
  const betaKid = await staff.student(h.tenants.beta.id, betaSchool);
  const betaGuardian = await staff.guardian(h.tenants.beta.id, [betaKid]);
  return {
    root,
    north,
    south,
    admin,
    principal,
    teacher,
    parent,
    kid,
    otherKid,
    ownGuardian,
    otherGuardian,
    betaSchool,
    betaGuardian,
  };
});

const tag = () => Math.random().toString(36).slice(2, 10);

for (const runtime of ['node', 'workerd'] as const) {
  describe(`staff and family resources on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = h.api(runtime).request;
    const ids = (r: ApiResponse): string[] => r.json.data.map((s: { id: string }) => s.id);

    it('guardians: CRUD and links; teachers see their students’ guardians; cross-tenant and out-of-scope ids are 404', async () => {
      const g = await req('POST', '/v1/guardians', admin, {
        first_name: 'Gail',
        last_name: `G-${runtime}`,
        email: `gail-${tag()}@fam.test`,
      });
      expect(g.status, g.text).toBe(201);
      const link = await req('POST', `/v1/students/${kid}/guardians`, admin, {
        guardian_id: g.json.id,
        relationship: 'grandparent',
      });
      expect(link.status, link.text).toBe(201);
      expectProblem(
        await req('POST', `/v1/students/${kid}/guardians`, admin, {
          guardian_id: g.json.id,
          relationship: 'grandparent',
        }),
        409,
        'conflict',
      );
      const links = await req('GET', `/v1/students/${kid}/guardians`, admin);
      expect(links.json.data.map((l: { guardian_id: string }) => l.guardian_id)).toEqual(
        expect.arrayContaining([ownGuardian, g.json.id]),
      );
      expect((await staff.accessLog(kid)).at(-1)?.access).toBe('read');
      expect(
        (await req('DELETE', `/v1/students/${kid}/guardians/${g.json.id}`, admin)).status,
      ).toBe(204);
      expectProblem(
        await req('POST', '/v1/guardians', admin, { first_name: '' }),
        400,
        'validation_failed',
      );

      const mine = await req('GET', '/v1/guardians', parent.token);
      expect(mine.status, mine.text).toBe(403); // parents hold no guardians.read
      const teacherView = await req('GET', '/v1/guardians', teacher.token);
      expect(ids(teacherView)).toContain(ownGuardian);
      expect(ids(teacherView)).not.toContain(otherGuardian);
      expectProblem(
        await req('GET', `/v1/guardians/${otherGuardian}`, teacher.token),
        404,
        'not_found',
      );
      expectProblem(
        await req('GET', `/v1/guardians/${otherGuardian}`, principal.token),
        404,
        'not_found',
      );
      expectProblem(await req('GET', `/v1/guardians/${betaGuardian}`, admin), 404, 'not_found');
      expectProblem(
        await req('PATCH', `/v1/guardians/${betaGuardian}`, admin, { first_name: 'X' }),
        404,
        'not_found',
      );
      expectProblem(
        await req('POST', '/v1/guardians', teacher.token, { first_name: 'A', last_name: 'B' }),
        403,
        'forbidden',
      );
      expectProblem(
        await req('GET', `/v1/students/${otherKid}/guardians`, teacher.token),
        404,
        'not_found',
      );
    });

    it('staff: CRUD with unique employee numbers, scoped to a principal’s school', async () => {
      const number = `E-${tag()}`;
      const s = await req('POST', '/v1/staff', principal.token, {
        employee_number: number,
        first_name: 'Sue',
        last_name: 'Staff',
        school_id: north,
        subjects: ['math'],
      });
      expect(s.status, s.text).toBe(201);
      expect(s.json).toMatchObject({
        employee_number: number,
        subjects: ['math'],
        employment_status: 'active',
      });
      expectProblem(
        await req('POST', '/v1/staff', admin, {
          employee_number: number,
          first_name: 'A',
          last_name: 'B',
        }),
        409,
        'conflict',
      );
      const elsewhere = await req('POST', '/v1/staff', admin, {
        employee_number: `E-${tag()}`,
        first_name: 'Sol',
        last_name: 'South',
        school_id: south,
      });
      expectProblem(
        await req('GET', `/v1/staff/${elsewhere.json.id}`, principal.token),
        404,
        'not_found',
      );
      expect(ids(await req('GET', '/v1/staff?limit=100', principal.token))).not.toContain(
        elsewhere.json.id,
      );
      expectProblem(await req('GET', '/v1/staff', teacher.token), 403, 'forbidden');
      expect((await req('DELETE', `/v1/staff/${s.json.id}`, principal.token)).status).toBe(204);
    });

    it('org units: create under a parent in reach, no cycles, principal limited to their subtree', async () => {
      const campus = await req('POST', '/v1/org-units', principal.token, {
        parent_id: north,
        kind: 'campus',
        name: 'North Annex',
        code: `NA-${tag()}`,
        timezone: 'America/Chicago',
      });
      expect(campus.status, campus.text).toBe(201);
      expectProblem(
        await req('POST', '/v1/org-units', principal.token, {
          parent_id: south,
          kind: 'campus',
          name: 'X',
          code: `X-${tag()}`,
        }),
        422,
        'unprocessable',
      );
      expectProblem(
        await req('PATCH', `/v1/org-units/${south}`, principal.token, { name: 'Mine now' }),
        404,
        'not_found',
      );
      expectProblem(
        await req('PATCH', `/v1/org-units/${north}`, admin, { parent_id: campus.json.id }),
        422,
        'unprocessable',
      );
      expectProblem(
        await req('POST', '/v1/org-units', admin, {
          parent_id: root,
          kind: 'school',
          name: 'Dup',
          code: campus.json.code,
        }),
        409,
        'conflict',
      );
      expectProblem(
        await req('POST', '/v1/org-units', admin, {
          parent_id: root,
          kind: 'school',
          name: 'Bad',
          code: 'B',
          timezone: 'Mars/Base',
        }),
        400,
        'validation_failed',
      );
      expectProblem(await req('GET', `/v1/org-units/${betaSchool}`, admin), 404, 'not_found');
      expectProblem(await req('DELETE', `/v1/org-units/${north}`, admin), 409, 'conflict');
      expectProblem(
        await req('POST', '/v1/org-units', teacher.token, {
          parent_id: north,
          kind: 'campus',
          name: 'T',
          code: 'T',
        }),
        403,
        'forbidden',
      );
      const list = await req('GET', `/v1/org-units?parent_id=${north}`, teacher.token);
      expect(ids(list)).toContain(campus.json.id);
    });

    it('sessions and calendars: create, bulk upsert, list by school and dates, scoped writes', async () => {
      const year = await req('POST', '/v1/sessions', admin, {
        org_unit_id: north,
        kind: 'school_year',
        name: `SY ${runtime}`,
        start_date: '2026-08-15',
        end_date: '2027-06-10',
      });
      expect(year.status, year.text).toBe(201);
      expectProblem(
        await req('POST', '/v1/sessions', admin, {
          org_unit_id: north,
          kind: 'term',
          name: 'T',
          start_date: '2026-09-01',
          end_date: '2026-08-01',
        }),
        400,
        'validation_failed',
      );
      expectProblem(
        await req('POST', '/v1/sessions', principal.token, {
          org_unit_id: south,
          kind: 'term',
          name: 'T',
          start_date: '2026-09-01',
          end_date: '2026-10-01',
        }),
        403,
        'forbidden',
      );
      const put = await req('PUT', '/v1/calendars/days', principal.token, {
        school_id: north,
        session_id: year.json.id,
        days: [
          { date: '2026-09-01' },
          { date: '2026-09-02', kind: 'holiday', note: 'Founders day' },
        ],
      });
      expect(put.status, put.text).toBe(200);
      const again = await req('PUT', '/v1/calendars/days', principal.token, {
        school_id: north,
        session_id: year.json.id,
        days: [{ date: '2026-09-02', kind: 'instructional' }],
      });
      expect(again.json.data[0]).toMatchObject({
        date: '2026-09-02',
        kind: 'instructional',
        note: null,
      });
      const days = await req(
        'GET',
        `/v1/calendars?school_id=${north}&from=2026-09-01&to=2026-09-30`,
        teacher.token,
      );
      expect(days.json.data.map((d: { date: string; kind: string }) => [d.date, d.kind])).toEqual([
        ['2026-09-01', 'instructional'],
        ['2026-09-02', 'instructional'],
      ]);
      expectProblem(
        await req('PUT', '/v1/calendars/days', principal.token, {
          school_id: south,
          session_id: year.json.id,
          days: [{ date: '2026-09-01' }],
        }),
        422,
        'unprocessable',
      );
      expectProblem(
        await req('PUT', '/v1/calendars/days', teacher.token, {
          school_id: north,
          session_id: year.json.id,
          days: [{ date: '2026-09-01' }],
        }),
        403,
        'forbidden',
      );
      const betaCal = await req('GET', `/v1/calendars?school_id=${betaSchool}`, admin);
      expect(betaCal.json.data).toEqual([]);
      // Runs twice (once per runtime) on the same school: tidy so the next run starts clean.
      await (await staff.db()).query(`delete from calendar_days where school_id = $1`, [north]);
    });

    it('users: invite, create with a password (hash never returned), grant and remove scoped roles', async () => {
      const invited = await req('POST', '/v1/users', admin, {
        email: `inv-${tag()}@people.test`,
        first_name: 'Ivy',
        last_name: 'Invited',
      });
      expect(invited.status, invited.text).toBe(201);
      expect(invited.json).toMatchObject({ status: 'invited', roles: [] });
      expect(invited.text).not.toMatch(/password|pbkdf2/);
      const active = await req('POST', '/v1/users', admin, {
        email: `act-${tag()}@people.test`,
        first_name: 'Al',
        last_name: 'Active',
        password: 'Purple-Giraffe-Lamp-77',
      });
      expect(active.json.status).toBe('active');
      const db = await staff.db();
      const stored = await db.query(`select password_hash from users where id = $1`, [
        active.json.id,
      ]);
      // Each runtime's scheme: scrypt on Node, PBKDF2 on Workers (db/passwords.ts).
      expect(stored.rows[0].password_hash).toMatch(
        runtime === 'node' ? /^scrypt\$17\$/ : /^pbkdf2-sha256\$600000\$/,
      );
      expectProblem(
        await req('POST', '/v1/users', admin, {
          email: invited.json.email.toUpperCase(),
          first_name: 'D',
          last_name: 'D',
        }),
        409,
        'conflict',
      );

      const grant = await req('POST', `/v1/users/${invited.json.id}/roles`, principal.token, {
        role: 'teacher',
        org_unit_id: north,
      });
      expect(grant.status, grant.text).toBe(201);
      const read = await req('GET', `/v1/users/${invited.json.id}`, principal.token);
      expect(read.json.roles).toEqual([
        { id: grant.json.id, role: 'teacher', role_id: expect.any(String), org_unit_id: north },
      ]);
      expectProblem(
        await req('POST', `/v1/users/${invited.json.id}/roles`, principal.token, {
          role: 'teacher',
          org_unit_id: south,
        }),
        403,
        'forbidden',
      );
      expectProblem(
        await req('POST', `/v1/users/${invited.json.id}/roles`, principal.token, {
          role: 'network_admin',
          org_unit_id: null,
        }),
        403,
        'forbidden',
      );
      expectProblem(
        await req('POST', `/v1/users/${invited.json.id}/roles`, principal.token, {
          role: 'network_admin',
          org_unit_id: north,
        }),
        403,
        'forbidden',
      );
      expectProblem(
        await req('POST', `/v1/users/${invited.json.id}/roles`, admin, {
          role: 'platform_admin',
          org_unit_id: null,
        }),
        403,
        'forbidden',
      );
      expect(
        (
          await req(
            'DELETE',
            `/v1/users/${invited.json.id}/roles/${grant.json.id}`,
            principal.token,
          )
        ).status,
      ).toBe(204);
      // A user holding a role only at another school is invisible to the principal.
      const southie = await staff.user(h.tenants.alpha.id, [{ role: 'teacher', orgUnitId: south }]);
      expectProblem(await req('GET', `/v1/users/${southie}`, principal.token), 404, 'not_found');
      expectProblem(
        await req('GET', `/v1/users/${h.tenants.beta.adminUserId}`, admin),
        404,
        'not_found',
      );
      expectProblem(await req('GET', '/v1/users', teacher.token), 403, 'forbidden');
    });

    it('roles: list system roles, create and edit a custom role, delete only unused ones', async () => {
      const list = await req('GET', '/v1/roles?limit=100', admin);
      expect(list.json.data.map((r: { key: string }) => r.key)).toEqual(
        expect.arrayContaining(['principal', 'teacher']),
      );
      const key = `counselor_${runtime}`;
      const role = await req('POST', '/v1/roles', admin, {
        key,
        name: 'Counselor',
        permissions: ['students.read'],
      });
      expect(role.status, role.text).toBe(201);
      expect(role.json).toMatchObject({ key, is_system: false, permissions: ['students.read'] });
      const edited = await req('PATCH', `/v1/roles/${role.json.id}`, admin, {
        permissions: ['students.read', 'guardians.read'],
      });
      expect(edited.json.permissions).toEqual(['guardians.read', 'students.read']);
      expectProblem(
        await req('POST', '/v1/roles', admin, {
          key: `x_${runtime}`,
          name: 'X',
          permissions: ['nope.read'],
        }),
        422,
        'unprocessable',
      );
      expectProblem(
        await req('POST', '/v1/roles', admin, { key, name: 'Again', permissions: [] }),
        409,
        'conflict',
      );
      const teacherRole = list.json.data.find((r: { key: string }) => r.key === 'teacher');
      expectProblem(
        await req('PATCH', `/v1/roles/${teacherRole.id}`, admin, { name: 'Sage' }),
        409,
        'conflict',
      );
      expectProblem(
        await req('POST', '/v1/roles', principal.token, {
          key: 'p_role',
          name: 'P',
          permissions: [],
        }),
        403,
        'forbidden',
      );
      const holder = await staff.user(h.tenants.alpha.id, [{ role: key }]);
      expectProblem(await req('DELETE', `/v1/roles/${role.json.id}`, admin), 409, 'conflict');
      await (
        await staff.db()
      ).query(`update user_roles set deleted_at = now() where user_id = $1`, [holder]);
      expect((await req('DELETE', `/v1/roles/${role.json.id}`, admin)).status).toBe(204);
    });

    it('documents every new route in the OpenAPI description', async () => {
      const r = await call(target(), 'GET', '/openapi.json', { host: ALPHA });
      const paths = Object.keys(r.json.paths);
      for (const p of [
        '/v1/students',
        '/v1/students/{id}',
        '/v1/students/{id}/export',
        '/v1/students/{id}/erase',
        '/v1/students/{id}/guardians',
        '/v1/guardians/{id}',
        '/v1/staff',
        '/v1/org-units/{id}',
        '/v1/sessions',
        '/v1/calendars',
        '/v1/calendars/days',
        '/v1/users/{id}/roles',
        '/v1/roles/{id}',
      ])
        expect(paths).toContain(p);
    });
  });
}
