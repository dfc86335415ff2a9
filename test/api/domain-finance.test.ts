import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../api/auth/principal.js';
import { recordPayment, type PaymentInput } from '../../api/finance/payments.js';
import { accountStatement, type StatementInput } from '../../api/finance/statement.js';
import { ApiError } from '../../api/problems.js';
import { createDomainWorld, type DomainWorld } from './domain-world.js';
import { rawAccount, rawInvoice } from './finance-fixtures.js';

/** Finance as domain functions: a transaction and plain input in, data out, no HTTP. */

let d: DomainWorld;
let school: string;
let account: string;
let invoiceA: string;
let invoiceB: string;
let payment: string;

beforeAll(async () => {
  d = await createDomainWorld('domain_finance');
  const a = d.tenantId;
  school = await d.staff.school(a, 'Island');
  const db = await d.staff.db();
  // UTC−10: an instant early on the 16th (UTC) is still the 15th at the school.
  await db.query(`update org_units set timezone = 'Pacific/Honolulu' where id = $1`, [school]);
  account = await rawAccount(d.staff, a, school, []);
  const one = async (text: string, values: unknown[]) =>
    (await db.query<{ id: string }>(text, values)).rows[0]!.id;
  invoiceA = await one(
    `insert into invoices (tenant_id, number, account_id, issue_date, due_date, status,
                           subtotal_cents, total_cents, amount_paid_cents, balance_cents, issued_at)
     values ($1, 'INV-A', $2, '2026-01-01', '2026-01-31', 'open', 10000, 10000, 4000, 6000, now())
     returning id`,
    [a, account],
  );
  invoiceB = await one(
    `insert into invoices (tenant_id, number, account_id, issue_date, due_date, status,
                           subtotal_cents, total_cents, amount_paid_cents, balance_cents, issued_at,
                           voided_at)
     values ($1, 'INV-B', $2, '2026-02-01', '2026-02-28', 'void', 5000, 5000, 0, 5000, now(),
             '2026-02-10T12:00:00Z')
     returning id`,
    [a, account],
  );
  payment = await one(
    `insert into payments (tenant_id, account_id, method, amount_cents, unapplied_cents, received_at, reference)
     values ($1, $2, 'check', 4000, 0, '2026-01-16T05:00:00Z', 'CHK-1') returning id`,
    [a, account],
  );
  await db.query(
    `insert into payment_allocations (tenant_id, payment_id, invoice_id, amount_cents)
     values ($1, $2, $3, 4000)`,
    [a, payment, invoiceA],
  );
  // Credit received after the statement's range.
  await db.query(
    `insert into payments (tenant_id, account_id, method, amount_cents, unapplied_cents, received_at)
     values ($1, $2, 'cash', 1000, 1000, '2026-03-05T12:00:00Z')`,
    [a, account],
  );
}, 180_000);

afterAll(async () => {
  await d?.close();
});

const statement = (input: Partial<StatementInput>) =>
  d.inTenant((tx) =>
    accountStatement(tx, {
      accountId: account,
      schoolId: school,
      tenantTimezone: 'UTC',
      from: null,
      to: null,
      ...input,
    }),
  );

describe('accountStatement', () => {
  it('opens with what came before the range and runs the balance through it, days at the school', async () => {
    const s = await statement({ from: '2026-01-10', to: '2026-02-28' });
    expect(s).toMatchObject({
      account_id: account,
      from: '2026-01-10',
      to: '2026-02-28',
      opening_balance_cents: 10000,
      closing_balance_cents: 6000,
      credit_cents: 0,
      whole_account: true,
    });
    expect(
      s.entries.map((e) => [e.date, e.kind, e.reference, e.amount_cents, e.balance_cents]),
    ).toEqual([
      ['2026-01-15', 'payment', 'CHK-1', -4000, 6000],
      ['2026-02-01', 'invoice', 'INV-B', 5000, 11000],
      ['2026-02-10', 'void', 'INV-B', -5000, 6000],
    ]);
    expect(s.invoices.map((i) => [i.id, i.status, i.balance_cents])).toEqual([
      [invoiceA, 'open', 6000],
      [invoiceB, 'void', 5000],
    ]);
    expect(s.payments).toEqual([
      {
        id: payment,
        received_on: '2026-01-15',
        method: 'check',
        amount_cents: 4000,
        unapplied_cents: 0,
        allocations: [{ invoice_id: invoiceA, amount_cents: 4000 }],
      },
    ]);
  });

  it('counts credit received up to the last day', async () => {
    const s = await statement({ to: '2026-12-31' });
    expect(s).toMatchObject({
      opening_balance_cents: 0,
      closing_balance_cents: 5000,
      credit_cents: 1000,
    });
  });

  it('refuses a range that ends before it starts', async () => {
    const err = await statement({ from: '2026-03-01', to: '2026-01-01' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('validation_failed');
  });
});

describe('recordPayment', () => {
  // A tenant-wide finance writer: the payment may pay any of the account's invoices (staff of
  // one school pay only their school's, as finance.test.ts shows over HTTP).
  const clerk = (): Principal => ({
    userId: d.world.alpha.adminUserId,
    tenantId: d.tenantId,
    sessionId: 'domain-test',
    via: 'bearer',
    grants: [
      { role: 'network_admin', orgUnitId: null, permissions: ['finance.read', 'finance.write'] },
    ],
    permissions: new Set(['finance.read', 'finance.write']),
    roles: new Set(['network_admin']),
  });
  const record = (accountId: string, payment: PaymentInput, status = 'active') =>
    d.inTenant((tx) =>
      recordPayment(tx, {
        tenantId: d.tenantId,
        principal: clerk(),
        account: { id: accountId, status },
        payment,
      }),
    );

  it('pays the open invoices oldest first and keeps the rest as credit', async () => {
    const acc = await rawAccount(d.staff, d.tenantId, null, []);
    const first = await rawInvoice(d.staff, d.tenantId, acc, 3000);
    const second = await rawInvoice(d.staff, d.tenantId, acc, 5000);
    const { payment, applied } = await record(acc, { method: 'cash', amountCents: 9000 });
    expect(payment).toMatchObject({ accountId: acc, amountCents: 9000, unappliedCents: 1000 });
    expect(applied).toEqual([
      {
        invoiceId: first,
        before: { status: 'open', amountPaidCents: 0 },
        after: { status: 'paid', amountPaidCents: 3000 },
      },
      {
        invoiceId: second,
        before: { status: 'open', amountPaidCents: 0 },
        after: { status: 'paid', amountPaidCents: 5000 },
      },
    ]);
  });

  it('refuses a closed account and an allocation beyond an invoice’s balance', async () => {
    const acc = await rawAccount(d.staff, d.tenantId, null, []);
    const invoice = await rawInvoice(d.staff, d.tenantId, acc, 1000);
    const closed = await record(acc, { method: 'cash', amountCents: 500 }, 'closed').catch(
      (e: unknown) => e,
    );
    expect((closed as ApiError).code).toBe('conflict');
    const over = await record(acc, {
      method: 'check',
      amountCents: 2000,
      allocations: [{ invoiceId: invoice, amountCents: 1500 }],
    }).catch((e: unknown) => e);
    expect((over as ApiError).code).toBe('unprocessable');
    expect((over as ApiError).invalidParams?.map((p) => p.name)).toEqual([
      'json.allocations.0.amount_cents',
    ]);
  });
});
