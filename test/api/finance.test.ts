import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allocateExplicit,
  allocateOldestFirst,
  applyToInvoice,
  invoiceRefusal,
  priceLines,
} from '../../api/finance/ledger.js';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { REDIS_URL } from '../support/api-world.js';
import { Harness } from '../support/harness.js';
import { rawAccount, rawInvoice, twoSchoolFamily } from './finance-fixtures.js';
import { bearer, expectProblem } from '../support/staff.js';

/**
 * /v1/accounts, /v1/invoices and /v1/payments on Node and in workerd: drafts, issuing and
 * voiding, payments with allocations (explicit and oldest first) and credit, statements,
 * idempotent recording, relationship scoping and the metrics refresh after commits.
 */

const ALPHA = 'alpha.test';
const QUEUE = `test-${randomUUID()}`;

const h = await Harness.init('finance_api', { vars: { METRICS_QUEUE: QUEUE } });
const { staff } = h;

const {
  redis,
  queue,
  north,
  south,
  admin,
  principal,
  office,
  teacher,
  parent,
  otherParent,
  gMine,
  gOther,
  gSouth,
  betaAccount,
  betaInvoice,
  family,
  familyParent,
} = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, 'North');
  const south = await staff.school(a, 'South');
  const admin = await h.admin('alpha');
  const principal = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
  const office = await staff.person(a, [{ role: 'office_admin', orgUnitId: north }]);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const parent = await staff.person(a, [{ role: 'parent' }]);
  const otherParent = await staff.person(a, [{ role: 'parent' }]);
  const s1 = await staff.student(a, north, { firstName: 'Ada' });
  const s2 = await staff.student(a, north, { firstName: 'Bo' });
  const s3 = await staff.student(a, south, { firstName: 'Cy' });
  /** The parent's guardian record (child s1 at north); another family's (s2, north). */
  const gMine = await staff.guardian(a, [s1], { userId: parent.userId });
  const gOther = await staff.guardian(a, [s2], { userId: otherParent.userId });
  const gSouth = await staff.guardian(a, [s3]);
  const familyParent = await staff.person(a, [{ role: 'parent' }]);
  /** A family with a child at north and one at south; its parent user. */
  const family = await twoSchoolFamily(staff, a, [north, south], familyParent.userId);
  const b = h.tenants.beta.id;
  const betaSchool = await staff.school(b, 'Beta School');
  const betaKid = await staff.student(b, betaSchool);
  const betaGuardian = await staff.guardian(b, [betaKid]);
  const betaAccount = await rawAccount(staff, b, betaSchool, [betaGuardian]);
  const betaInvoice = await rawInvoice(staff, b, betaAccount, 5000);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: redis });
  return {
    redis,
    queue,
    north,
    south,
    admin,
    principal,
    office,
    teacher,
    parent,
    otherParent,
    gMine,
    gOther,
    gSouth,
    betaAccount,
    betaInvoice,
    family,
    familyParent,
  };
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
});

describe('ledger arithmetic', () => {
  it('prices lines with discounts and totals them', () => {
    const p = priceLines([
      { description: 'Tuition', quantity: 1, unit_amount_cents: 90000 },
      { description: 'Lunch', quantity: 20, unit_amount_cents: 475 },
      { description: 'Sibling discount', quantity: 1, unit_amount_cents: -9000 },
    ]);
    expect(p.lines.map((l) => l.amountCents)).toEqual([90000, 9500, -9000]);
    expect(p.lines.map((l) => l.position)).toEqual([1, 2, 3]);
    expect(p.totalCents).toBe(90500);
  });

  it.each([
    { name: 'partial', amount: 400, balances: [1000], allocs: [400], credit: 0 },
    { name: 'exact', amount: 1000, balances: [1000], allocs: [1000], credit: 0 },
    { name: 'overpayment', amount: 1250, balances: [1000], allocs: [1000], credit: 250 },
    { name: 'two, oldest first', amount: 800, balances: [500, 700], allocs: [500, 300], credit: 0 },
    { name: 'nothing open', amount: 300, balances: [], allocs: [], credit: 300 },
  ])('allocates oldest first: $name', ({ amount, balances, allocs, credit }) => {
    const plan = allocateOldestFirst(
      amount,
      balances.map((b, i) => ({ id: `i${i}`, balanceCents: b })),
    );
    expect(plan.allocations.map((a) => a.amountCents)).toEqual(allocs);
    expect(plan.unappliedCents).toBe(credit);
  });

  it('refuses explicit allocations beyond a balance, to unknown invoices or beyond the payment', () => {
    const payable = [{ id: 'a', balanceCents: 500 }];
    expect(allocateExplicit(600, [{ invoiceId: 'a', amountCents: 500 }], payable).issues).toEqual(
      [],
    );
    expect(
      allocateExplicit(600, [{ invoiceId: 'a', amountCents: 501 }], payable).issues[0],
    ).toMatchObject({ index: 0, field: 'amount_cents' });
    expect(
      allocateExplicit(600, [{ invoiceId: 'x', amountCents: 1 }], payable).issues[0],
    ).toMatchObject({ index: 0, field: 'invoice_id' });
    expect(
      allocateExplicit(100, [{ invoiceId: 'a', amountCents: 200 }], payable).issues[0],
    ).toMatchObject({ index: null });
  });

  it('moves invoices between statuses only where allowed', () => {
    expect(applyToInvoice({ totalCents: 1000, amountPaidCents: 600 }, 400)).toEqual({
      amountPaidCents: 1000,
      balanceCents: 0,
      status: 'paid',
    });
    expect(() => applyToInvoice({ totalCents: 1000, amountPaidCents: 600 }, 401)).toThrow();
    expect(invoiceRefusal('issue', { status: 'open', amountPaidCents: 0 })).toMatch(/cannot/);
    expect(invoiceRefusal('void', { status: 'draft', amountPaidCents: 0 })).toMatch(/cannot/);
    expect(invoiceRefusal('void', { status: 'open', amountPaidCents: 10 })).toMatch(/release/);
    expect(
      invoiceRefusal('void', { status: 'paid', amountPaidCents: 10 }, { releasePayments: true }),
    ).toBeNull();
  });
});

for (const runtime of ['node', 'workerd'] as const) {
  describe(`finance on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = h.api(runtime).request;
    const ok = (r: ApiResponse, status = 200) => {
      expect(r.status, r.text).toBe(status);
      return r.json;
    };
    const ids = (r: ApiResponse): string[] => r.json.data.map((x: { id: string }) => x.id);

    const newAccount = async (over: Record<string, unknown> = {}) =>
      ok(
        await req('POST', '/v1/accounts', admin, {
          name: `Family ${runtime}`,
          school_id: north,
          primary_guardian_id: gMine,
          ...over,
        }),
        201,
      );
    const draft = async (accountId: string, lines: unknown[], over: Record<string, unknown> = {}) =>
      ok(await req('POST', '/v1/invoices', admin, { account_id: accountId, lines, ...over }), 201);
    const line = (cents: number, description = 'Tuition') => ({
      description,
      quantity: 1,
      unit_amount_cents: cents,
    });
    const issue = async (id: string, issue_date = '2026-01-05', due_date = '2026-01-31') =>
      ok(await req('POST', `/v1/invoices/${id}/issue`, admin, { issue_date, due_date }));
    /** An account with open invoices of the given totals, due in that order. */
    const billed = async (totals: number[]) => {
      const account = await newAccount();
      const invoices: string[] = [];
      for (const [i, total] of totals.entries()) {
        const inv = await draft(account.id, [line(total)]);
        await issue(inv.id, `2026-0${i + 1}-01`, `2026-0${i + 1}-28`);
        invoices.push(inv.id);
      }
      return { account: account.id as string, invoices };
    };
    const pay = (body: Record<string, unknown>, key = randomUUID(), token = admin) =>
      req('POST', '/v1/payments', token, body, { 'idempotency-key': key });
    const invoice = async (id: string) => ok(await req('GET', `/v1/invoices/${id}`, admin));
    const account = async (id: string) => ok(await req('GET', `/v1/accounts/${id}`, admin));

    describe('accounts', () => {
      it('creates an account with its guardians, audited, and lists it with balance and credit', async () => {
        const acc = await newAccount({ guardian_ids: [gOther] });
        expect(acc).toMatchObject({
          name: `Family ${runtime}`,
          status: 'active',
          school_id: north,
          primary_guardian_id: gMine,
          balance_cents: 0,
          credit_cents: 0,
        });
        expect(acc.account_number).toMatch(/^A-/);
        expect(acc.guardian_ids.sort()).toEqual([gMine, gOther].sort());
        expect(acc).not.toHaveProperty('tenant_id');
        const list = await req('GET', '/v1/accounts?limit=100', admin);
        expect(ids(list)).toContain(acc.id);
        expect(ids(list)).not.toContain(betaAccount);
        const changed = ok(
          await req('PATCH', `/v1/accounts/${acc.id}`, admin, {
            name: 'Renamed',
            guardian_ids: [],
          }),
        );
        expect(changed).toMatchObject({ name: 'Renamed', guardian_ids: [gMine] });
        const trail = await staff.auditOf(acc.id);
        expect(trail.map((a) => a.action).sort()).toEqual([
          'billing_account.create',
          'billing_account.guardians_replace',
          'billing_account.update',
        ]);
        expect(trail.find((a) => a.action === 'billing_account.guardians_replace')).toMatchObject({
          before: { guardian_ids: [gMine, gOther].sort() },
          after: { guardian_ids: [gMine] },
        });
      });

      it('answers 409 for a duplicate account number, 422 for an unknown guardian, 400 for a bad body', async () => {
        const number = `N-${randomUUID().slice(0, 8)}`;
        await newAccount({ account_number: number });
        expectProblem(
          await req('POST', '/v1/accounts', admin, { name: 'Dup', account_number: number }),
          409,
          'conflict',
        );
        expectProblem(
          await req('POST', '/v1/accounts', admin, {
            name: 'Ghost',
            primary_guardian_id: randomUUID(),
          }),
          422,
          'unprocessable',
        );
        const bad = await req('POST', '/v1/accounts', admin, { name: '', status: 'frozen' });
        expectProblem(bad, 400, 'validation_failed');
        expect(bad.json.invalid_params.map((p: { name: string }) => p.name)).toEqual(
          expect.arrayContaining(['json.name', 'json.status']),
        );
      });

      it('shows a parent only their own family account, and refuses them writes', async () => {
        const mine = await newAccount();
        const theirs = await newAccount({ primary_guardian_id: gOther });
        const list = await req('GET', '/v1/accounts?limit=100', parent.token);
        expect(ids(list)).toContain(mine.id);
        expect(ids(list)).not.toContain(theirs.id);
        ok(await req('GET', `/v1/accounts/${mine.id}`, parent.token));
        expectProblem(
          await req('GET', `/v1/accounts/${theirs.id}`, parent.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/accounts/${theirs.id}/statement`, parent.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('PATCH', `/v1/accounts/${mine.id}`, parent.token, { name: 'Mine now' }),
          403,
          'forbidden',
        );
        expectProblem(
          await req('POST', '/v1/accounts', parent.token, { name: 'Self-made' }),
          403,
          'forbidden',
        );
      });

      it('keeps a principal to the accounts of their school, and a teacher out', async () => {
        const here = await newAccount();
        const there = await newAccount({ school_id: south, primary_guardian_id: gSouth });
        const list = await req('GET', '/v1/accounts?limit=100', principal.token);
        expect(ids(list)).toContain(here.id);
        expect(ids(list)).not.toContain(there.id);
        expectProblem(
          await req('GET', `/v1/accounts/${there.id}`, principal.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('PATCH', `/v1/accounts/${there.id}`, principal.token, { name: 'x' }),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/accounts', principal.token, { name: 'South', school_id: south }),
          403,
          'forbidden',
        );
        expectProblem(await req('GET', '/v1/accounts', teacher.token), 403, 'forbidden');
      });

      it('closes an account only once it is settled', async () => {
        const { account: acc, invoices } = await billed([2000]);
        const refused = await req('PATCH', `/v1/accounts/${acc}`, admin, { status: 'closed' });
        expectProblem(refused, 409, 'conflict');
        expect(refused.json.detail).toMatch(/2000 cents owed/);
        ok(await req('POST', `/v1/invoices/${invoices[0]}/void`, admin, {}));
        const closed = ok(await req('PATCH', `/v1/accounts/${acc}`, admin, { status: 'closed' }));
        expect(closed.status).toBe('closed');
        expectProblem(
          await pay({ account_id: acc, method: 'cash', amount_cents: 100 }),
          409,
          'conflict',
        );
        expectProblem(
          await req('POST', '/v1/invoices', admin, { account_id: acc, lines: [] }),
          409,
          'conflict',
        );
      });

      it('treats another tenant’s account as missing, and refuses another tenant’s token', async () => {
        expectProblem(await req('GET', `/v1/accounts/${betaAccount}`, admin), 404, 'not_found');
        expectProblem(
          await req('PATCH', `/v1/accounts/${betaAccount}`, admin, { name: 'x' }),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/accounts/${betaAccount}/statement`, admin),
          404,
          'not_found',
        );
        const betaAdmin = await h.admin('beta');
        expectProblem(await req('GET', '/v1/accounts', betaAdmin), 401, 'unauthenticated');
        expectProblem(
          await call(target(), 'GET', '/v1/accounts', { host: ALPHA }),
          401,
          'unauthenticated',
        );
      });
    });

    describe('invoices', () => {
      it('creates a draft with a discount line, edits its lines, issues it once', async () => {
        const acc = await newAccount();
        const inv = await draft(acc.id, [
          line(90000),
          { description: 'Lunch', quantity: 20, unit_amount_cents: 475 },
          line(-9000, 'Sibling discount'),
        ]);
        expect(inv).toMatchObject({
          status: 'draft',
          account_id: acc.id,
          school_id: north,
          total_cents: 90500,
          subtotal_cents: 90500,
          balance_cents: 90500,
          amount_paid_cents: 0,
          issue_date: null,
        });
        expect(inv.lines.map((l: { amount_cents: number }) => l.amount_cents)).toEqual([
          90000, 9500, -9000,
        ]);
        const edited = ok(
          await req('PATCH', `/v1/invoices/${inv.id}`, admin, {
            lines: [line(50000), line(-5000, 'Discount')],
            memo: 'September',
          }),
        );
        expect(edited).toMatchObject({
          total_cents: 45000,
          balance_cents: 45000,
          memo: 'September',
        });
        expect(edited.lines).toHaveLength(2);
        const issued = await issue(inv.id);
        expect(issued).toMatchObject({
          status: 'open',
          issue_date: '2026-01-05',
          due_date: '2026-01-31',
          total_cents: 45000,
          balance_cents: 45000,
        });
        expect(issued.issued_at).toBeTruthy();
        expectProblem(
          await req('POST', `/v1/invoices/${inv.id}/issue`, admin, {}),
          409,
          'conflict',
        );
        expectProblem(
          await req('PATCH', `/v1/invoices/${inv.id}`, admin, { memo: 'late change' }),
          409,
          'conflict',
        );
        expectProblem(await req('DELETE', `/v1/invoices/${inv.id}`, admin), 409, 'conflict');
        // One transaction's audit rows share a timestamp: compare as a set.
        expect((await staff.auditOf(inv.id)).map((a) => a.action).sort()).toEqual([
          'invoice.create',
          'invoice.issue',
          'invoice.lines_replace',
          'invoice.update',
        ]);
        // The account now owes the invoice.
        expect((await account(acc.id)).balance_cents).toBe(45000);
      });

      it('refuses an empty, a negative or a back-dated invoice, and deletes a draft', async () => {
        const acc = await newAccount();
        const empty = await draft(acc.id, []);
        expectProblem(
          await req('POST', `/v1/invoices/${empty.id}/issue`, admin, {}),
          422,
          'unprocessable',
        );
        expectProblem(
          await req('POST', '/v1/invoices', admin, { account_id: acc.id, lines: [line(-1)] }),
          422,
          'unprocessable',
        );
        const inv = await draft(acc.id, [line(1000)]);
        const back = await req('POST', `/v1/invoices/${inv.id}/issue`, admin, {
          issue_date: '2026-02-10',
          due_date: '2026-02-01',
        });
        expectProblem(back, 422, 'unprocessable');
        expectProblem(
          await req('POST', `/v1/invoices/${inv.id}/issue`, admin, { issue_date: '0000-01-01' }),
          400,
          'validation_failed',
        );
        expect(back.json.invalid_params[0].name).toBe('json.due_date');
        const bad = await req('POST', '/v1/invoices', admin, {
          account_id: 'nope',
          lines: [{ description: '', quantity: 0, unit_amount_cents: 1.5 }],
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(bad.json.invalid_params.map((p: { name: string }) => p.name)).toEqual(
          expect.arrayContaining(['json.account_id', 'json.lines.0.quantity']),
        );
        expect((await req('DELETE', `/v1/invoices/${empty.id}`, admin)).status).toBe(204);
        expectProblem(await req('GET', `/v1/invoices/${empty.id}`, admin), 404, 'not_found');
        // A zero invoice (fully discounted) is paid on issue; the body is optional.
        const free = await draft(acc.id, [line(1000), line(-1000, 'Scholarship')]);
        const issued = ok(await req('POST', `/v1/invoices/${free.id}/issue`, admin));
        expect(issued).toMatchObject({ status: 'paid', balance_cents: 0 });
        expect(issued.due_date >= issued.issue_date).toBe(true);
        expect(ok(await req('POST', `/v1/invoices/${free.id}/void`, admin)).status).toBe('void');
      });

      it('scopes invoices through their account, and needs an account in reach to create one', async () => {
        const mine = await newAccount();
        const theirs = await newAccount({ primary_guardian_id: gOther });
        const a = await draft(mine.id, [line(100)]);
        const b = await draft(theirs.id, [line(100)]);
        const list = await req('GET', '/v1/invoices?limit=100', parent.token);
        expect(ids(list)).toContain(a.id);
        expect(ids(list)).not.toContain(b.id);
        expectProblem(await req('GET', `/v1/invoices/${b.id}`, parent.token), 404, 'not_found');
        expectProblem(
          await req('POST', '/v1/invoices', parent.token, { account_id: mine.id, lines: [] }),
          403,
          'forbidden',
        );
        expectProblem(
          await req('POST', `/v1/invoices/${a.id}/issue`, parent.token, {}),
          403,
          'forbidden',
        );
        const south1 = await newAccount({ school_id: south, primary_guardian_id: gSouth });
        const r = await req('POST', '/v1/invoices', principal.token, {
          account_id: south1.id,
          lines: [line(100)],
        });
        expectProblem(r, 422, 'unprocessable');
        expect(r.json.invalid_params[0].name).toBe('json.account_id');
        expectProblem(
          await req('POST', '/v1/invoices', admin, { account_id: betaAccount, lines: [] }),
          422,
          'unprocessable',
        );
        expectProblem(await req('GET', `/v1/invoices/${betaInvoice}`, admin), 404, 'not_found');
        expectProblem(
          await req('POST', `/v1/invoices/${betaInvoice}/issue`, admin, {}),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', `/v1/invoices/${betaInvoice}/void`, admin, {}),
          404,
          'not_found',
        );
      });
    });

    describe('payments', () => {
      it.each([
        {
          name: 'partial payment leaves the invoice open with the rest due',
          totals: [10000],
          amount: 4000,
          invoices: [{ status: 'open', amount_paid_cents: 4000, balance_cents: 6000 }],
          unapplied: 0,
        },
        {
          name: 'exact payment marks the invoice paid',
          totals: [10000],
          amount: 10000,
          invoices: [{ status: 'paid', amount_paid_cents: 10000, balance_cents: 0 }],
          unapplied: 0,
        },
        {
          name: 'overpayment pays the invoice and keeps the rest as credit',
          totals: [10000],
          amount: 12500,
          invoices: [{ status: 'paid', amount_paid_cents: 10000, balance_cents: 0 }],
          unapplied: 2500,
        },
        {
          name: 'two invoices are paid oldest first',
          totals: [5000, 7000],
          amount: 8000,
          invoices: [
            { status: 'paid', amount_paid_cents: 5000, balance_cents: 0 },
            { status: 'open', amount_paid_cents: 3000, balance_cents: 4000 },
          ],
          unapplied: 0,
        },
      ])('$name', async ({ totals, amount, invoices: expected, unapplied }) => {
        const { account: acc, invoices } = await billed(totals);
        const r = await pay({ account_id: acc, method: 'check', amount_cents: amount });
        const payment = ok(r, 201);
        expect(r.headers.location).toBe(`/v1/payments/${payment.id}`);
        expect(payment).toMatchObject({
          account_id: acc,
          amount_cents: amount,
          unapplied_cents: unapplied,
          status: 'succeeded',
          esa_disbursement_id: null,
        });
        const applied = payment.allocations.reduce(
          (s: number, a: { amount_cents: number }) => s + a.amount_cents,
          0,
        );
        expect(applied + unapplied).toBe(amount);
        for (const [i, id] of invoices.entries()) {
          const inv = await invoice(id);
          expect(inv, `invoice ${i}`).toMatchObject(expected[i]!);
          expect(inv.balance_cents).toBe(inv.total_cents - inv.amount_paid_cents);
          expect(Boolean(inv.paid_at)).toBe(inv.status === 'paid');
        }
        const owed = totals.reduce((s, x) => s + x, 0) - amount;
        expect(await account(acc)).toMatchObject({ balance_cents: owed, credit_cents: unapplied });
        expect((await staff.auditOf(payment.id)).map((a) => a.action)).toEqual(['payment.record']);
        const read = ok(await req('GET', `/v1/payments/${payment.id}`, admin));
        expect(read.allocations).toEqual(payment.allocations);
      });

      it('applies explicit allocations only, leaving the rest as credit', async () => {
        const { account: acc, invoices } = await billed([5000, 7000]);
        const payment = ok(
          await pay({
            account_id: acc,
            method: 'card',
            amount_cents: 9000,
            allocations: [{ invoice_id: invoices[1], amount_cents: 7000 }],
          }),
          201,
        );
        expect(payment.unapplied_cents).toBe(2000);
        expect(await invoice(invoices[0]!)).toMatchObject({ status: 'open', balance_cents: 5000 });
        expect(await invoice(invoices[1]!)).toMatchObject({ status: 'paid', balance_cents: 0 });
      });

      it('never allocates beyond a balance, to a draft or another account, or beyond the payment', async () => {
        const { account: acc, invoices } = await billed([5000]);
        const other = await billed([3000]);
        const draftInv = await draft(acc, [line(1000)]);
        const cases: [unknown[], number, string][] = [
          [
            [{ invoice_id: invoices[0], amount_cents: 5001 }],
            6000,
            'json.allocations.0.amount_cents',
          ],
          [[{ invoice_id: draftInv.id, amount_cents: 100 }], 6000, 'json.allocations.0.invoice_id'],
          [
            [{ invoice_id: other.invoices[0], amount_cents: 100 }],
            6000,
            'json.allocations.0.invoice_id',
          ],
          [[{ invoice_id: invoices[0], amount_cents: 3000 }], 2000, 'json.allocations'],
        ];
        for (const [allocations, amount, field] of cases) {
          const r = await pay({
            account_id: acc,
            method: 'cash',
            amount_cents: amount,
            allocations,
          });
          expectProblem(r, 422, 'unprocessable');
          expect(r.json.invalid_params.map((p: { name: string }) => p.name)).toContain(field);
        }
        expect(await invoice(invoices[0]!)).toMatchObject({ status: 'open', amount_paid_cents: 0 });
        const dup = await pay({
          account_id: acc,
          method: 'cash',
          amount_cents: 100,
          allocations: [
            { invoice_id: invoices[0], amount_cents: 50 },
            { invoice_id: invoices[0], amount_cents: 50 },
          ],
        });
        expectProblem(dup, 400, 'validation_failed');
        expectProblem(
          await pay({ account_id: acc, method: 'esa', amount_cents: 100 }),
          422,
          'unprocessable',
        );
        expectProblem(
          await pay({ account_id: acc, method: 'cash', amount_cents: 0 }),
          400,
          'validation_failed',
        );
      });

      it('requires an Idempotency-Key, replays a repeat and refuses the key with another body', async () => {
        const { account: acc, invoices } = await billed([10000]);
        const body = { account_id: acc, method: 'ach', amount_cents: 3000 };
        const missing = await req('POST', '/v1/payments', admin, body);
        expectProblem(missing, 400, 'bad_request');
        expect(missing.json.invalid_params[0].name).toBe('header.idempotency-key');
        const key = randomUUID();
        const first = await pay(body, key);
        expect(first.status, first.text).toBe(201);
        const again = await pay(body, key);
        expect(again.status).toBe(201);
        expect(again.headers['idempotency-replayed']).toBe('true');
        expect(again.json).toEqual(first.json);
        expectProblem(
          await pay({ ...body, amount_cents: 3001 }, key),
          422,
          'idempotency_key_reused',
        );
        // Applied once.
        expect(await invoice(invoices[0]!)).toMatchObject({ amount_paid_cents: 3000 });
        const list = await req('GET', `/v1/payments?account_id=${acc}`, admin);
        expect(ids(list)).toEqual([first.json.id]);
      });

      it('scopes payments through their account', async () => {
        const mine = await billed([1000]);
        const theirs = await billed([1000]);
        await req('PATCH', `/v1/accounts/${theirs.account}`, admin, {
          primary_guardian_id: gOther,
          guardian_ids: [],
        });
        const p1 = ok(
          await pay({ account_id: mine.account, method: 'cash', amount_cents: 500 }),
          201,
        );
        const p2 = ok(
          await pay({ account_id: theirs.account, method: 'cash', amount_cents: 500 }),
          201,
        );
        const list = await req('GET', '/v1/payments?limit=100', parent.token);
        expect(ids(list)).toContain(p1.id);
        expect(ids(list)).not.toContain(p2.id);
        expectProblem(await req('GET', `/v1/payments/${p2.id}`, parent.token), 404, 'not_found');
        ok(await req('GET', `/v1/payments/${p2.id}`, otherParent.token));
        expectProblem(
          await pay(
            { account_id: mine.account, method: 'cash', amount_cents: 1 },
            randomUUID(),
            parent.token,
          ),
          403,
          'forbidden',
        );
        const cross = await pay({ account_id: betaAccount, method: 'cash', amount_cents: 1 });
        expectProblem(cross, 422, 'unprocessable');
        expect(cross.json.invalid_params[0].name).toBe('json.account_id');
        expectProblem(await req('GET', '/v1/payments', teacher.token), 403, 'forbidden');
      });
    });

    describe('voiding', () => {
      it('voids an unpaid invoice, which keeps its amounts but is no longer owed', async () => {
        const { account: acc, invoices } = await billed([4000, 6000]);
        const r = ok(
          await req('POST', `/v1/invoices/${invoices[0]}/void`, admin, { reason: 'wrong line' }),
        );
        expect(r).toMatchObject({ status: 'void', total_cents: 4000, balance_cents: 4000 });
        expect(r.voided_at).toBeTruthy();
        expect((await account(acc)).balance_cents).toBe(6000);
        expectProblem(
          await req('POST', `/v1/invoices/${invoices[0]}/void`, admin, {}),
          409,
          'conflict',
        );
        // A void invoice takes no payment: oldest first skips it.
        const p = ok(await pay({ account_id: acc, method: 'cash', amount_cents: 1000 }), 201);
        expect(p.allocations).toEqual([{ invoice_id: invoices[1], amount_cents: 1000 }]);
        const d = await draft(acc, [line(100)]);
        expectProblem(await req('POST', `/v1/invoices/${d.id}/void`, admin, {}), 409, 'conflict');
        const trail = await staff.auditOf(invoices[0]!);
        expect(trail.at(-1)).toMatchObject({
          action: 'invoice.void',
          after: { status: 'void', reason: 'wrong line' },
        });
      });

      it('refuses to void a paid invoice unless its payments are released to credit', async () => {
        const { account: acc, invoices } = await billed([5000]);
        const p = ok(await pay({ account_id: acc, method: 'card', amount_cents: 3000 }), 201);
        const refused = await req('POST', `/v1/invoices/${invoices[0]}/void`, admin, {});
        expectProblem(refused, 409, 'conflict');
        expect(refused.json.detail).toMatch(/release_payments/);
        const voided = ok(
          await req('POST', `/v1/invoices/${invoices[0]}/void`, admin, { release_payments: true }),
        );
        expect(voided).toMatchObject({ status: 'void', amount_paid_cents: 0, balance_cents: 5000 });
        const after = ok(await req('GET', `/v1/payments/${p.id}`, admin));
        expect(after).toMatchObject({ unapplied_cents: 3000, allocations: [] });
        expect(await account(acc)).toMatchObject({ balance_cents: -3000, credit_cents: 3000 });
        expect((await staff.auditOf(p.id)).map((a) => a.action)).toContain(
          'payment.allocation_release',
        );
      });

      it('needs finance.void and the invoice in reach', async () => {
        const { invoices } = await billed([1000]);
        expectProblem(
          await req('POST', `/v1/invoices/${invoices[0]}/void`, office.token, {}),
          403,
          'forbidden',
        );
        expectProblem(
          await req('POST', `/v1/invoices/${invoices[0]}/void`, parent.token, {}),
          403,
          'forbidden',
        );
        const south1 = await newAccount({ school_id: south, primary_guardian_id: gSouth });
        const inv = await draft(south1.id, [line(100)]);
        await issue(inv.id);
        expectProblem(
          await req('POST', `/v1/invoices/${inv.id}/void`, principal.token, {}),
          404,
          'not_found',
        );
        ok(await req('POST', `/v1/invoices/${invoices[0]}/void`, principal.token, {}));
      });
    });

    describe('malformed input and other tenants', () => {
      it('answers 400 with invalid_params for bad filters, pages and ids, never a 5xx', async () => {
        for (const path of [
          '/v1/accounts?status=frozen',
          '/v1/accounts?limit=0',
          '/v1/accounts/not-a-uuid',
          '/v1/accounts/not-a-uuid/statement',
          '/v1/invoices?status=late',
          '/v1/invoices/not-a-uuid',
          '/v1/payments?method=bitcoin',
          '/v1/payments?cursor=bm9wZQ',
          '/v1/payments/not-a-uuid',
        ]) {
          const r = await req('GET', path, admin);
          expectProblem(r, 400, 'validation_failed');
          expect(r.json.invalid_params.length, path).toBeGreaterThan(0);
        }
        const raw = await call(target(), 'POST', '/v1/invoices', {
          host: ALPHA,
          headers: bearer(admin),
          rawBody: '{"account_id":',
        });
        expectProblem(raw, 400, 'validation_failed');
      });

      it('treats another tenant’s invoice and payment as missing for every operation', async () => {
        const path = `/v1/invoices/${betaInvoice}`;
        expectProblem(await req('PATCH', path, admin, { memo: 'x' }), 404, 'not_found');
        expectProblem(await req('DELETE', path, admin), 404, 'not_found');
        expectProblem(await req('GET', `/v1/payments/${randomUUID()}`, admin), 404, 'not_found');
        const list = await req('GET', '/v1/invoices?limit=100', admin);
        expect(ids(list)).not.toContain(betaInvoice);
        const acc = await newAccount({ primary_guardian_id: gOther });
        const d = await draft(acc.id, [line(100)]);
        expectProblem(
          await req('PATCH', `/v1/invoices/${d.id}`, parent.token, { memo: 'x' }),
          403,
          'forbidden',
        );
        expectProblem(await req('DELETE', `/v1/invoices/${d.id}`, parent.token), 403, 'forbidden');
        const own = ok(
          await req('PATCH', `/v1/invoices/${d.id}`, principal.token, { memo: 'in reach' }),
        );
        expect(own.memo).toBe('in reach');
      });
    });

    describe('statements and refreshes', () => {
      it('gives opening balance, entries, allocations, credit and closing balance for a range', async () => {
        const acc = (await newAccount()).id as string;
        const jan = await draft(acc, [line(10000)]);
        await issue(jan.id, '2026-01-05', '2026-01-31');
        const feb = await draft(acc, [line(8000)]);
        await issue(feb.id, '2026-02-05', '2026-02-28');
        const p1 = ok(
          await pay({
            account_id: acc,
            method: 'check',
            amount_cents: 10000,
            received_at: '2026-01-20T15:00:00Z',
            reference: 'Check #1001',
          }),
          201,
        );
        const p2 = ok(
          await pay({
            account_id: acc,
            method: 'card',
            amount_cents: 9000,
            received_at: '2026-02-20T15:00:00Z',
          }),
          201,
        );
        const all = ok(await req('GET', `/v1/accounts/${acc}/statement?to=2026-12-31`, admin));
        expect(all.opening_balance_cents).toBe(0);
        expect(
          all.entries.map((e: { kind: string; amount_cents: number }) => [e.kind, e.amount_cents]),
        ).toEqual([
          ['invoice', 10000],
          ['payment', -10000],
          ['invoice', 8000],
          ['payment', -9000],
        ]);
        expect(all.closing_balance_cents).toBe(-1000);
        expect(all.credit_cents).toBe(1000);
        expect((await account(acc)).balance_cents).toBe(all.closing_balance_cents);

        const feb1 = ok(
          await req('GET', `/v1/accounts/${acc}/statement?from=2026-02-01&to=2026-02-28`, admin),
        );
        expect(feb1.opening_balance_cents).toBe(0);
        expect(feb1.entries.map((e: { balance_cents: number }) => e.balance_cents)).toEqual([
          8000, -1000,
        ]);
        expect(feb1.payments).toEqual([
          expect.objectContaining({
            id: p2.id,
            received_on: '2026-02-20',
            unapplied_cents: 1000,
            allocations: [{ invoice_id: feb.id, amount_cents: 8000 }],
          }),
        ]);
        expect(feb1.invoices.map((i: { id: string }) => i.id)).toEqual([feb.id]);
        const jan1 = ok(
          await req('GET', `/v1/accounts/${acc}/statement?from=2026-01-10&to=2026-01-31`, admin),
        );
        expect(jan1.opening_balance_cents).toBe(10000);
        expect(jan1.entries).toHaveLength(1);
        expect(jan1.entries[0]).toMatchObject({ payment_id: p1.id, reference: 'Check #1001' });
        expect(jan1.closing_balance_cents).toBe(0);
        // The family sees its own statement.
        await req('PATCH', `/v1/accounts/${acc}`, admin, { guardian_ids: [gMine] });
        ok(await req('GET', `/v1/accounts/${acc}/statement`, parent.token));
        expectProblem(
          await req('GET', `/v1/accounts/${acc}/statement?from=2026-03-01&to=2026-01-01`, admin),
          400,
          'validation_failed',
        );
        for (const q of ['from=soon', 'to=0000-01-01', 'to=2026-02-30'])
          expectProblem(
            await req('GET', `/v1/accounts/${acc}/statement?${q}`, admin),
            400,
            'validation_failed',
          );
      });

      it('applies a principal’s payment on a family with children at two schools only to their school’s invoices', async () => {
        const [dee, eli] = family.children;
        const acc = (await newAccount({ primary_guardian_id: family.guardianId })).id as string;
        // The other school's invoice falls due first: oldest-first alone would pay it.
        const there = await draft(acc, [line(7000, 'Tuition south')], { student_id: eli });
        await issue(there.id, '2026-01-02', '2026-01-20');
        const here = await draft(acc, [line(5000, 'Tuition north')], { student_id: dee });
        await issue(here.id, '2026-01-05', '2026-01-31');
        const payment = ok(
          await pay(
            { account_id: acc, method: 'check', amount_cents: 8000 },
            randomUUID(),
            principal.token,
          ),
          201,
        );
        expect(payment.allocations).toEqual([{ invoice_id: here.id, amount_cents: 5000 }]);
        expect(payment.unapplied_cents).toBe(3000);
        expect(await invoice(there.id)).toMatchObject({ status: 'open', balance_cents: 7000 });
        expect(await invoice(here.id)).toMatchObject({ status: 'paid', balance_cents: 0 });
        // Naming the other school's invoice is refused like any invoice not on the account.
        const refused = await pay(
          {
            account_id: acc,
            method: 'check',
            amount_cents: 1000,
            allocations: [{ invoice_id: there.id, amount_cents: 1000 }],
          },
          randomUUID(),
          principal.token,
        );
        expectProblem(refused, 422, 'unprocessable');
        expect(await invoice(there.id)).toMatchObject({ balance_cents: 7000 });
      });

      it('shows a principal only their school’s invoices, allocations and part of a family with children at two schools', async () => {
        const [dee, eli] = family.children;
        const acc = (await newAccount({ primary_guardian_id: family.guardianId })).id as string;
        const here = await draft(acc, [line(6000, 'Tuition north'), line(-1000, 'Sibling')], {
          student_id: dee,
        });
        await issue(here.id, '2026-01-05', '2026-01-31');
        const there = await draft(acc, [line(7000, 'Tuition south')], { student_id: eli });
        await issue(there.id, '2026-01-06', '2026-02-28');
        expect([here.school_id, there.school_id]).toEqual([north, south]);
        // Oldest due first: 5000 settle north's invoice, 3500 go to south's.
        const payment = ok(
          await pay({
            account_id: acc,
            method: 'check',
            amount_cents: 8500,
            received_at: '2026-01-20T15:00:00Z',
          }),
          201,
        );

        const list = ids(
          await req('GET', `/v1/invoices?account_id=${acc}&limit=100`, principal.token),
        );
        expect(list).toEqual([here.id]);
        const mine = ok(await req('GET', `/v1/invoices/${here.id}`, principal.token));
        expect(mine.lines.map((l: { amount_cents: number }) => l.amount_cents)).toEqual([
          6000, -1000,
        ]);
        expectProblem(
          await req('GET', `/v1/invoices/${there.id}`, principal.token),
          404,
          'not_found',
        );
        expectProblem(await req('GET', `/v1/students/${eli}`, principal.token), 404, 'not_found');
        const shown = ok(await req('GET', `/v1/payments/${payment.id}`, principal.token));
        expect(shown.allocations).toEqual([{ invoice_id: here.id, amount_cents: 5000 }]);

        const part = ok(
          await req('GET', `/v1/accounts/${acc}/statement?to=2026-12-31`, principal.token),
        );
        expect(part.whole_account).toBe(false);
        expect(part.invoices.map((i: { id: string }) => i.id)).toEqual([here.id]);
        expect(
          part.entries.map((e: { kind: string; amount_cents: number }) => [e.kind, e.amount_cents]),
        ).toEqual([
          ['invoice', 5000],
          ['payment', -5000],
        ]);
        expect(part.payments).toEqual([
          expect.objectContaining({
            id: payment.id,
            amount_cents: 5000,
            unapplied_cents: 0,
            allocations: [{ invoice_id: here.id, amount_cents: 5000 }],
          }),
        ]);
        expect(part.credit_cents).toBe(0);
        expect(part.closing_balance_cents).toBe(
          part.opening_balance_cents +
            part.entries.reduce((s: number, e: { amount_cents: number }) => s + e.amount_cents, 0),
        );
        expect(part.closing_balance_cents).toBe(
          part.invoices.reduce((s: number, i: { balance_cents: number }) => s + i.balance_cents, 0),
        );
        expect(JSON.stringify(part)).not.toContain(there.id);
        // Their export of their student's record holds their school's invoices only (the
        // family has an account per runtime: compare only the invoices the export holds).
        const exported = (token: string) =>
          req('GET', `/v1/students/${dee}/export`, token).then((r) =>
            (ok(r).invoices as { id: string }[]).map((i) => i.id),
          );
        const partExport = await exported(principal.token);
        expect(partExport).toContain(here.id);
        expect(partExport).not.toContain(there.id);
        expect(await exported(admin)).toEqual(expect.arrayContaining([here.id, there.id]));
        // Nor may they bill the other school's child on the shared account.
        expectProblem(
          await req('POST', '/v1/invoices', principal.token, {
            account_id: acc,
            student_id: eli,
            lines: [line(100)],
          }),
          403,
          'forbidden',
        );

        // The whole ledger for a tenant-wide role and for the family itself.
        for (const token of [admin, familyParent.token]) {
          const whole = ok(await req('GET', `/v1/accounts/${acc}/statement?to=2026-12-31`, token));
          expect(whole.whole_account).toBe(true);
          expect(whole.invoices.map((i: { id: string }) => i.id).sort()).toEqual(
            [here.id, there.id].sort(),
          );
          expect(whole.closing_balance_cents).toBe(5000 + 7000 - 8500);
          expect(whole.credit_cents).toBe(0);
          expect(whole.payments[0].allocations).toHaveLength(2);
        }
        expect(
          ids(await req('GET', `/v1/invoices?account_id=${acc}&limit=100`, familyParent.token)),
        ).toHaveLength(2);
        expectProblem(
          await req('GET', `/v1/invoices?account_id=${acc}`, teacher.token),
          403,
          'forbidden',
        );
      });

      it('shows a principal only their school’s part of a shared family’s balance in the account list and read', async () => {
        const [dee, eli] = family.children;
        const acc = (await newAccount({ primary_guardian_id: family.guardianId })).id as string;
        const here = await draft(acc, [line(5000, 'Tuition north')], { student_id: dee });
        await issue(here.id, '2026-01-05', '2026-01-31');
        const there = await draft(acc, [line(7000, 'Tuition south')], { student_id: eli });
        await issue(there.id, '2026-01-06', '2026-02-28');
        // Oldest due first: 3000 to north's invoice. Owed: north 2000, south 7000.
        ok(await pay({ account_id: acc, method: 'check', amount_cents: 3000 }), 201);

        const listed = async (token: string) =>
          (ok(await req('GET', '/v1/accounts?limit=100', token)).data as { id: string }[]).find(
            (a) => a.id === acc,
          );
        const figures = { balance_cents: 2000, credit_cents: 0, whole_account: false };
        expect(await listed(principal.token)).toMatchObject(figures);
        expect(ok(await req('GET', `/v1/accounts/${acc}`, principal.token))).toMatchObject(figures);
        // The same as their statement's closing balance.
        const part = ok(
          await req('GET', `/v1/accounts/${acc}/statement?to=2026-12-31`, principal.token),
        );
        expect(part.closing_balance_cents).toBe(2000);

        // Tenant-wide finance roles and the family see the whole account.
        const whole = { balance_cents: 9000, credit_cents: 0, whole_account: true };
        expect(await listed(admin)).toMatchObject(whole);
        for (const token of [admin, familyParent.token])
          expect(ok(await req('GET', `/v1/accounts/${acc}`, token))).toMatchObject(whole);
      });

      it('enqueues one metrics refresh after committed finance writes, none after a refused one', async () => {
        const { account: acc } = await billed([1000]);
        await queue.obliterate({ force: true });
        ok(await pay({ account_id: acc, method: 'cash', amount_cents: 100 }), 201);
        ok(await pay({ account_id: acc, method: 'cash', amount_cents: 100 }), 201);
        const delayed = await queue.getDelayed();
        expect(delayed).toHaveLength(1);
        expect(delayed[0]!.data).toEqual({ tenantId: h.tenants.alpha.id, mode: 'incremental' });
        await queue.obliterate({ force: true });
        expectProblem(
          await pay({
            account_id: acc,
            method: 'cash',
            amount_cents: 100,
            allocations: [{ invoice_id: randomUUID(), amount_cents: 1 }],
          }),
          422,
          'unprocessable',
        );
        expect(await queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
      });

      it('documents the finance routes, with the required Idempotency-Key, in /openapi.json', async () => {
        const r = await call(target(), 'GET', '/openapi.json', { host: 'localhost' });
        expect(r.status).toBe(200);
        const op = r.json.paths['/v1/payments'].post;
        const key = op.parameters.find((p: { name: string }) => p.name === 'idempotency-key');
        expect(key).toMatchObject({ in: 'header', required: true });
        for (const path of [
          '/v1/accounts',
          '/v1/accounts/{id}/statement',
          '/v1/invoices/{id}/issue',
          '/v1/invoices/{id}/void',
        ])
          expect(r.json.paths[path], path).toBeDefined();
      });
    });
  });
}
