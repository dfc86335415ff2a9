import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertLead, type ConversionInput } from '../../api/admissions/conversion.js';
import type { Principal } from '../../api/auth/principal.js';
import { ApiError } from '../../api/problems.js';
import * as t from '../../db/schema/tenant.js';
import { createDomainWorld, type DomainWorld } from './domain-world.js';
import { schoolYear } from './finance-fixtures.js';

/** Converting an enrolled lead as a domain function: a transaction and plain input, no HTTP. */

let d: DomainWorld;
let north: string;
let south: string;
let year: string;

beforeAll(async () => {
  d = await createDomainWorld('domain_admissions');
  north = await d.staff.school(d.tenantId, 'North');
  south = await d.staff.school(d.tenantId, 'South');
  year = await schoolYear(d.staff, d.tenantId, north);
}, 180_000);

afterAll(async () => {
  await d?.close();
});

/** A registrar of one school. */
const registrar = (schoolId: string): Principal => ({
  userId: d.world.alpha.adminUserId,
  tenantId: d.tenantId,
  sessionId: 'domain-test',
  via: 'bearer',
  grants: [
    {
      role: 'registrar',
      orgUnitId: schoolId,
      permissions: ['students.write', 'enrollments.write'],
    },
  ],
  permissions: new Set(['students.write', 'enrollments.write']),
  roles: new Set(['registrar']),
});

async function lead(stage = 'enrolled') {
  const r = await (
    await d.staff.db()
  ).query<{ id: string }>(
    `insert into leads (tenant_id, guardian_name, email, school_id, stage, grade_interest,
                        student_first_name)
     values ($1, 'Maria de la Cruz', $2, $3, $4, '5', 'Sofia') returning id`,
    [d.tenantId, `${randomUUID()}@family.test`, north, stage],
  );
  return r.rows[0]!.id;
}

const input = (): ConversionInput => ({
  sessionId: year,
  entryDate: '2026-09-01',
  student: { studentNumber: `N-${randomUUID().slice(0, 8)}`, lastName: 'Cruz' },
});

const convert = (leadId: string, principal: Principal, given = input()) =>
  d.inTenant(async (tx) => {
    const [row] = await tx.select().from(t.leads).where(eq(t.leads.id, leadId));
    return convertLead(tx, { tenantId: d.tenantId, principal, lead: row!, input: given });
  });

const code = (e: unknown) => (e instanceof ApiError ? e.code : e);

describe('convertLead', () => {
  it('creates the student, guardian, link and enrollment from the lead, and links the lead', async () => {
    const id = await lead();
    const done = await convert(id, registrar(north));
    expect(done.student).toMatchObject({
      firstName: 'Sofia',
      lastName: 'Cruz',
      gradeLevel: '5',
      schoolId: north,
    });
    expect(done.guardian).toMatchObject({ firstName: 'Maria de la', lastName: 'Cruz' });
    expect(done.link).toMatchObject({ studentId: done.student.id, guardianId: done.guardianId });
    expect(done.enrollment).toMatchObject({ sessionId: year, entryDate: '2026-09-01' });
    expect(done).toMatchObject({ schoolId: north, sessionId: year });
    // Converted once only.
    expect(code(await convert(id, registrar(north)).catch((e: unknown) => e))).toBe('conflict');
  });

  it('refuses a lead not enrolled, a school outside reach, and a date outside the year', async () => {
    expect(code(await convert(await lead('inquiry'), registrar(north)).catch((e) => e))).toBe(
      'conflict',
    );
    expect(code(await convert(await lead(), registrar(south)).catch((e) => e))).toBe('forbidden');
    const late = await convert(await lead(), registrar(north), {
      ...input(),
      entryDate: '2030-01-01',
    }).catch((e: unknown) => e);
    expect(code(late)).toBe('unprocessable');
    expect((late as ApiError).invalidParams?.map((p) => p.name)).toEqual(['json.entry_date']);
  });
});
