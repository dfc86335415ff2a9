import { randomUUID } from 'node:crypto';
import type { Staff } from '../support/staff.js';

/** Finance and ESA rows written as superuser, for the finance and ESA API tests. */

/** A billing account with its guardians (the first is the primary one). */
export async function rawAccount(
  staff: Staff,
  tenantId: string,
  schoolId: string | null,
  guardianIds: string[],
  branch = 'pool',
): Promise<string> {
  const db = await staff.db(branch);
  const r = await db.query<{ id: string }>(
    `insert into billing_accounts (tenant_id, account_number, name, primary_guardian_id, school_id)
     values ($1, $2, 'Raw Family', $3, $4) returning id`,
    [tenantId, `R-${randomUUID().slice(0, 8)}`, guardianIds[0] ?? null, schoolId],
  );
  const id = r.rows[0]!.id;
  for (const g of guardianIds) {
    await db.query(
      `insert into billing_account_guardians (tenant_id, account_id, guardian_id) values ($1, $2, $3)`,
      [tenantId, id, g],
    );
  }
  return id;
}

/** An issued, unpaid invoice of `cents` on the account. */
export async function rawInvoice(
  staff: Staff,
  tenantId: string,
  accountId: string,
  cents: number,
  branch = 'pool',
): Promise<string> {
  const db = await staff.db(branch);
  const r = await db.query<{ id: string }>(
    `insert into invoices (tenant_id, number, account_id, issue_date, due_date, status,
                           subtotal_cents, total_cents, amount_paid_cents, balance_cents, issued_at)
     values ($1, $2, $3, '2026-01-01', '2026-01-31', 'open', $4, $4, 0, $4, now()) returning id`,
    [tenantId, `RI-${randomUUID().slice(0, 8)}`, accountId, cents],
  );
  return r.rows[0]!.id;
}

/** An ESA programme awarding `award` cents. */
export async function esaProgram(
  staff: Staff,
  tenantId: string,
  award: number,
  branch = 'pool',
): Promise<string> {
  const db = await staff.db(branch);
  const r = await db.query<{ id: string }>(
    `insert into esa_programs (tenant_id, name, state, award_amount_cents)
     values ($1, $2, 'AZ', $3) returning id`,
    [tenantId, `Empowerment ${randomUUID().slice(0, 8)}`, award],
  );
  return r.rows[0]!.id;
}

/** A school year at the org unit. */
export async function schoolYear(
  staff: Staff,
  tenantId: string,
  orgUnitId: string,
  branch = 'pool',
): Promise<string> {
  const db = await staff.db(branch);
  const r = await db.query<{ id: string }>(
    `insert into academic_sessions (tenant_id, org_unit_id, kind, name, start_date, end_date)
     values ($1, $2, 'school_year', $3, '2026-08-15', '2027-06-15') returning id`,
    [tenantId, orgUnitId, `Year ${randomUUID().slice(0, 8)}`],
  );
  return r.rows[0]!.id;
}

/** A family with a child at each school, both linked to one guardian (optionally a user). */
export async function twoSchoolFamily(
  staff: Staff,
  tenantId: string,
  schoolIds: [string, string],
  userId: string | null = null,
  branch = 'pool',
): Promise<{ guardianId: string; children: [string, string] }> {
  const children: [string, string] = [
    await staff.student(tenantId, schoolIds[0], { firstName: 'Dee' }, branch),
    await staff.student(tenantId, schoolIds[1], { firstName: 'Eli' }, branch),
  ];
  const guardianId = await staff.guardian(tenantId, children, { userId }, branch);
  return { guardianId, children };
}
