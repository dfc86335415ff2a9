import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transitionApplication } from '../../api/esa/applications.js';
import { createDisbursement, setDisbursementStatus } from '../../api/esa/disbursements.js';
import { ApiError } from '../../api/problems.js';
import * as t from '../../db/schema/tenant.js';
import { createDomainWorld, type DomainWorld } from './domain-world.js';
import { esaProgram, schoolYear } from './finance-fixtures.js';

/** ESA awards and disbursements as domain functions: a transaction and plain input, no HTTP. */

let d: DomainWorld;
let student: string;
let school: string;
let year: string;

beforeAll(async () => {
  d = await createDomainWorld('domain_esa');
  school = await d.staff.school(d.tenantId, 'North');
  student = await d.staff.student(d.tenantId, school, { firstName: 'Ada' });
  year = await schoolYear(d.staff, d.tenantId, school);
}, 180_000);

afterAll(async () => {
  await d?.close();
});

/** An application under review for a programme awarding `award` cents. */
async function underReview(award: number) {
  const program = await esaProgram(d.staff, d.tenantId, award);
  const r = await (
    await d.staff.db()
  ).query<{ id: string }>(
    `insert into esa_applications (tenant_id, student_id, program_id, session_id, school_id, status,
                                   submitted_at)
     values ($1, $2, $3, $4, $5, 'under_review', now()) returning id`,
    [d.tenantId, student, program, year, school],
  );
  return r.rows[0]!.id;
}

const application = (id: string) =>
  d.inTenant(async (tx) => {
    const [row] = await tx.select().from(t.esaApplications).where(eq(t.esaApplications.id, id));
    return row!;
  });

const code = (e: unknown) => (e instanceof ApiError ? e.code : e);

describe('ESA awards and disbursements', () => {
  it('approves with the programme’s award, then disburses no more than is left of it', async () => {
    const id = await underReview(7000);
    const approved = await d.inTenant(async (tx) =>
      transitionApplication(tx, { application: await application(id), to: 'approved' }),
    );
    expect(approved).toMatchObject({ status: 'approved', amountAwardedCents: 7000 });
    expect(approved.decidedAt).toBeInstanceOf(Date);

    const disburse = (amountCents: number) =>
      d.inTenant(async (tx) =>
        createDisbursement(tx, {
          tenantId: d.tenantId,
          application: await application(id),
          amountCents,
          scheduledOn: '2026-09-01',
        }),
      );
    const first = await disburse(5000);
    expect(first).toMatchObject({ status: 'scheduled', amountCents: 5000, disbursedOn: null });
    expect(code(await disburse(3000).catch((e: unknown) => e))).toBe('unprocessable');

    const move = (to: 'disbursed' | 'returned' | 'cancelled', disbursedOn?: string) =>
      d.inTenant((tx) =>
        setDisbursementStatus(tx, {
          applicationId: id,
          disbursementId: first.id,
          to,
          disbursedOn,
        }),
      );
    expect(code(await move('returned').catch((e: unknown) => e))).toBe('conflict');
    expect(code(await move('disbursed').catch((e: unknown) => e))).toBe('unprocessable');
    const moved = await move('disbursed', '2026-09-02');
    expect(moved.before.status).toBe('scheduled');
    expect(moved.after).toMatchObject({ status: 'disbursed', disbursedOn: '2026-09-02' });
  });

  it('refuses a move the life cycle does not allow and an award above the programme’s', async () => {
    const id = await underReview(1000);
    const over = await d
      .inTenant(async (tx) =>
        transitionApplication(tx, {
          application: await application(id),
          to: 'approved',
          amountAwardedCents: 1001,
        }),
      )
      .catch((e: unknown) => e);
    expect(code(over)).toBe('unprocessable');
    const back = await d
      .inTenant(async (tx) =>
        transitionApplication(tx, { application: await application(id), to: 'submitted' }),
      )
      .catch((e: unknown) => e);
    expect(code(back)).toBe('conflict');
    expect((back as ApiError).invalidParams).toEqual([
      { name: 'json.to', reason: 'must be one of: approved, denied, withdrawn' },
    ]);
    // Nothing was written by the refusals.
    expect((await application(id)).status).toBe('under_review');
  });
});
