/**
 * Finance (docs/metrics.md#finance). Amounts are integer cents.
 *
 * - School of an invoice: its school, else its billing account's school; of a payment: its
 *   account's school. Facts with neither count for the tenant only.
 * - Invoiced: totals of invoices that are not draft and not void, by issue date. An
 *   invoice's status is taken at the as-of date: one voided after it (the local date of
 *   `voided_at` in its school's zone) was live then and counts as open in every figure.
 *   (Allocations a void released are gone with it: such an invoice counts its whole total
 *   as owed then.)
 * - Dates are local to the school (its zone; the tenant's with no school): a payment's
 *   received day in its account's school's zone, an allocation's in its invoice's school's.
 * - Collected: payment allocations of succeeded payments, by the payment's received date,
 *   attributed to the invoice's school. Allocations (not payments) are used so
 *   that collected money is tied to what was invoiced; unapplied credit is not collected
 *   revenue. `payments_cents` reports every succeeded payment for reconciliation.
 * - Collection rate: of the invoices issued in the window, the allocations received by the
 *   as-of date ÷ their totals (a cohort rate, at most 1).
 * - Outstanding and AR aging, at the as-of date (the same in every period): invoices that
 *   are open or paid, issued by the as-of date, whose balance then was positive. Balance
 *   then = today's balance + allocations received after the as-of date (so a past as-of
 *   date sees payments not yet made). Uncollectible (written off), draft and void invoices
 *   are not receivables. Days past due = as-of − due date: ≤ 0 current, then 1–30, 31–60,
 *   61–90, over 90.
 * - ESA share: ESA-method succeeded payments ÷ all succeeded payments received in the
 *   window, by amount.
 *
 * How: one fact row per invoice, allocation and payment (`fin_invoices`, `fin_allocations`,
 * `fin_payments`: school, dates, amounts, the invoice's collected and receivable amounts),
 * and every figure a sum of those facts per scope and period (`fin_months`, `fin_schools`,
 * `fin_cohort`, `fin_aging`; `sums.ts`). An incremental run recomputes the facts of the
 * invoices, allocations and payments its changes reach and moves the sums by the
 * difference.
 */
import {
  MetricContext,
  NO_UNIT,
  type BaseMode,
  type ScopeWindow,
  byAsOf,
  byScope,
  groupBy,
  localDate,
  ratio,
  scopeKey,
} from './context.js';
import { mergeSums, replaceFacts } from './sums.js';
import { AGING_BUCKETS, type FinancePayload, type MetricSnapshot } from './types.js';

/** Changed rows of these tables are patched into the kept finance facts and sums. */
export const FINANCE_PATCHABLE = [
  'billing_accounts',
  'invoices',
  'payments',
  'payment_allocations',
] as const;

interface Keyed {
  scope_kind: string;
  scope_id: string;
  period: string;
}

const unitOf = (school: string) => `coalesce(${school}, '${NO_UNIT}'::UUID)`;
/** Restricts a fact query to the ids in temporary table `ids` (column `id`). */
const onlyIds = (column: string, ids?: string) =>
  ids ? `AND ${column} IN (SELECT id FROM ${ids})` : '';

/** Invoices with their school, whether they count as invoiced, and what was collected and
 * was receivable at the as-of date. */
function invoiceFacts(asOf: string, ids?: string): string {
  // With `ids`, each table is narrowed before it is joined: the joins then hash a few rows,
  // not every payment and invoice.
  const invoices = ids
    ? `(SELECT * FROM invoices WHERE id IN (SELECT id FROM ${ids}))`
    : 'invoices';
  const allocations = ids
    ? `(SELECT * FROM payment_allocations WHERE invoice_id IN (SELECT id FROM ${ids}))`
    : 'payment_allocations';
  // An allocation's received day is local to the invoice's school (where it is collected).
  return `WITH pa AS (SELECT * FROM ${allocations}),
     received AS (
       SELECT pa.invoice_id, pa.amount_cents,
              ${localDate('p.received_at', unitOf('coalesce(i.school_id, ba.school_id)'))} AS received_on
         FROM pa
         JOIN ${narrowed('payments', 'id', 'payment_id', 'pa', ids)} p
           ON p.id = pa.payment_id AND p.status = 'succeeded'
         JOIN ${invoices} i ON i.id = pa.invoice_id
         LEFT JOIN billing_accounts ba ON ba.id = i.account_id),
     paid AS (
       SELECT invoice_id,
              coalesce(sum(amount_cents) FILTER (received_on <= ${asOf}), 0) AS by_as_of,
              coalesce(sum(amount_cents) FILTER (received_on > ${asOf}), 0) AS after_as_of
         FROM received GROUP BY invoice_id),
     placed AS (
       SELECT i.*, ${unitOf('coalesce(i.school_id, ba.school_id)')} AS unit
         FROM ${invoices} i LEFT JOIN billing_accounts ba ON ba.id = i.account_id),
     -- Its status at the as-of date: one voided after it was still live (open) then.
     i AS (
       SELECT p.* REPLACE (CASE WHEN p.status = 'void' AND p.voided_at IS NOT NULL
                                 AND NOT ${byAsOf('p.voided_at', 'p.unit')}
                                THEN 'open' ELSE p.status END AS status)
         FROM placed p)
     SELECT i.id, i.account_id, i.unit,
            i.issue_date, i.total_cents, i.status NOT IN ('draft', 'void') AS invoiced,
            coalesce(paid.by_as_of, 0)::BIGINT AS collected,
            CASE WHEN i.status IN ('open', 'paid') AND i.issue_date <= ${asOf}
                  AND i.balance_cents + coalesce(paid.after_as_of, 0) > 0
                 THEN i.balance_cents + coalesce(paid.after_as_of, 0) END::BIGINT AS receivable,
            CASE WHEN i.due_date IS NULL OR ${asOf} - i.due_date <= 0 THEN 'current'
                 WHEN ${asOf} - i.due_date <= 30 THEN '1_30'
                 WHEN ${asOf} - i.due_date <= 60 THEN '31_60'
                 WHEN ${asOf} - i.due_date <= 90 THEN '61_90'
                 ELSE '90_plus' END AS bucket
       FROM i LEFT JOIN paid ON paid.invoice_id = i.id`;
}

/**
 * `table`, or with `ids` only its rows whose `key` some row of CTE `from` names in `ref`
 * (so that a join with the narrowed side hashes a few rows).
 */
const narrowed = (table: string, key: string, ref: string, from: string, ids?: string) =>
  ids ? `(SELECT * FROM ${table} WHERE ${key} IN (SELECT ${ref} FROM ${from}))` : table;

/** Allocations of succeeded payments: the invoice's school, the payment's received date. */
function allocationFacts(ids?: string): string {
  const allocations = ids
    ? `(SELECT * FROM payment_allocations WHERE id IN (SELECT id FROM ${ids}))`
    : 'payment_allocations';
  return `WITH pa AS (SELECT * FROM ${allocations})
     SELECT pa.id, pa.invoice_id, pa.payment_id,
            ${unitOf('coalesce(i.school_id, ba.school_id)')} AS unit,
            ${localDate('p.received_at', unitOf('coalesce(i.school_id, ba.school_id)'))} AS received_on,
            pa.amount_cents
       FROM pa
       JOIN ${narrowed('payments', 'id', 'payment_id', 'pa', ids)} p
         ON p.id = pa.payment_id AND p.status = 'succeeded'
       JOIN ${narrowed('invoices', 'id', 'invoice_id', 'pa', ids)} i ON i.id = pa.invoice_id
       LEFT JOIN billing_accounts ba ON ba.id = i.account_id`;
}

/** Succeeded payments received by the as-of date, with their account's school. */
function paymentFacts(asOf: string, ids?: string): string {
  return `SELECT * FROM (
            SELECT p.id, p.account_id, p.method, p.amount_cents,
                   ${localDate('p.received_at', unitOf('ba.school_id'))} AS received_on,
                   ${unitOf('ba.school_id')} AS unit
              FROM payments p LEFT JOIN billing_accounts ba ON ba.id = p.account_id
             WHERE p.status = 'succeeded' ${onlyIds('p.id', ids)})
           WHERE received_on <= ${asOf}`;
}

/** A fact joined to the scope windows containing its school and date. */
const inWindows = (source: string, date: string, where = 'true') => `
  FROM ${source} f
  JOIN _m_scope_windows sw ON sw.unit_id = f.unit AND f.${date} BETWEEN sw.start_date AND sw.end_date
 WHERE ${where}`;

const SW = 'sw.scope_kind, sw.scope_id, sw.period';

/** The kept sums: key, and the sum columns with their types. */
const SUMS = {
  fin_months: {
    key: ['scope_kind', 'scope_id', 'period', 'month'],
    sums: {
      facts: 'INTEGER',
      invoiced: 'BIGINT',
      collected: 'BIGINT',
      payments: 'BIGINT',
      esa: 'BIGINT',
    },
  },
  fin_schools: {
    key: ['scope_kind', 'scope_id', 'period', 'unit'],
    sums: { facts: 'INTEGER', invoiced: 'BIGINT', collected: 'BIGINT' },
  },
  fin_cohort: {
    key: ['scope_kind', 'scope_id', 'period'],
    sums: { facts: 'INTEGER', invoiced: 'BIGINT', collected: 'BIGINT' },
  },
  fin_aging: {
    key: ['scope_kind', 'scope_id', 'unit', 'bucket'],
    sums: { facts: 'INTEGER', balance: 'BIGINT' },
  },
} as const;
type SumTable = keyof typeof SUMS;

const sumList = (t: SumTable) =>
  Object.entries(SUMS[t].sums)
    .map(([c, type]) => `sum(${c})::${type} AS ${c}`)
    .join(', ');

/**
 * What facts contribute to each sums table, times `sign` (every sum column, zero where a
 * fact has nothing to add), from fact relations `inv`, `alloc` and `pay`.
 */
function contributions(
  facts: { inv: string; alloc: string; pay: string },
  sign: string,
): Record<SumTable, string> {
  const { inv, alloc, pay } = facts;
  const month = (d: string) => `date_trunc('month', f.${d})::DATE AS month`;
  return {
    fin_months: `
      SELECT ${SW}, ${month('issue_date')}, ${sign} AS facts, ${sign} * f.total_cents AS invoiced,
             0 AS collected, 0 AS payments, 0 AS esa ${inWindows(inv, 'issue_date', 'f.invoiced')}
      UNION ALL
      SELECT ${SW}, ${month('received_on')}, ${sign}, 0, ${sign} * f.amount_cents, 0, 0
        ${inWindows(alloc, 'received_on')}
      UNION ALL
      SELECT ${SW}, ${month('received_on')}, ${sign}, 0, 0, ${sign} * f.amount_cents,
             CASE WHEN f.method = 'esa' THEN ${sign} * f.amount_cents ELSE 0 END
        ${inWindows(pay, 'received_on')}`,
    fin_schools: `
      SELECT ${SW}, f.unit, ${sign} AS facts, ${sign} * f.total_cents AS invoiced, 0 AS collected
        ${inWindows(inv, 'issue_date', 'f.invoiced')}
      UNION ALL
      SELECT ${SW}, f.unit, ${sign}, 0, ${sign} * f.amount_cents ${inWindows(alloc, 'received_on')}`,
    fin_cohort: `
      SELECT ${SW}, ${sign} AS facts, ${sign} * f.total_cents AS invoiced,
             ${sign} * f.collected AS collected ${inWindows(inv, 'issue_date', 'f.invoiced')}`,
    fin_aging: `
      SELECT us.scope_kind, us.scope_id, f.unit, f.bucket, ${sign} AS facts,
             ${sign} * f.receivable AS balance
        FROM ${inv} f JOIN _m_unit_scopes us ON us.unit_id = f.unit
       WHERE f.receivable IS NOT NULL`,
  };
}

/** The kept facts and sums, from scratch. */
export async function financeBase(ctx: MetricContext, mode: 'temp' | 'rebuild'): Promise<void> {
  const asOf = ctx.asOfSql;
  await ctx.createBase('fin_invoices', mode, invoiceFacts(asOf));
  await ctx.createBase('fin_allocations', mode, allocationFacts());
  await ctx.createBase('fin_payments', mode, paymentFacts(asOf));
  const parts = contributions(
    {
      inv: ctx.base('fin_invoices', mode),
      alloc: ctx.base('fin_allocations', mode),
      pay: ctx.base('fin_payments', mode),
    },
    '1',
  );
  for (const t of Object.keys(SUMS) as SumTable[]) {
    const key = SUMS[t].key.join(', ');
    await ctx.createBase(
      t,
      mode,
      `SELECT ${key}, ${sumList(t)} FROM (${parts[t]}) GROUP BY ${key}`,
    );
  }
}

/**
 * Brings the kept finance facts and sums up to date with this run's changed accounts,
 * invoices, payments and allocations: the facts of every invoice, allocation and payment
 * they reach are recomputed (an account reaches its invoices and payments, a payment its
 * allocations and their invoices, an allocation its invoice), and each sum moves by the
 * new facts' contributions minus the replaced ones'.
 */
export async function patchFinanceBase(
  ctx: MetricContext,
  changed: ReadonlySet<string>,
): Promise<void> {
  if (!FINANCE_PATCHABLE.some((t) => changed.has(t))) return;
  const asOf = ctx.asOfSql;
  const delta = (t: string, column = 'id') =>
    changed.has(t) ? [`SELECT ${column} AS id FROM temp._delta_${t}`] : [];
  const union = (parts: string[]) =>
    parts.length ? parts.join('\n UNION ') : `SELECT NULL::UUID AS id WHERE false`;
  const inv = ctx.base('fin_invoices', 'patch');
  const alloc = ctx.base('fin_allocations', 'patch');
  const pay = ctx.base('fin_payments', 'patch');
  const accounts = union(delta('billing_accounts'));
  const payments = union(delta('payments'));
  await ctx.temp(
    '_m_fin_payment_ids',
    union([
      payments,
      `SELECT id FROM payments WHERE account_id IN (${accounts})`,
      `SELECT id FROM ${pay} WHERE account_id IN (${accounts})`,
    ]),
  );
  await ctx.temp(
    '_m_fin_invoice_ids',
    union([
      ...delta('invoices'),
      ...delta('payment_allocations', 'invoice_id'),
      `SELECT id FROM invoices WHERE account_id IN (${accounts})`,
      `SELECT id FROM ${inv} WHERE account_id IN (${accounts})`,
      `SELECT invoice_id FROM payment_allocations WHERE payment_id IN (${payments})`,
      `SELECT invoice_id FROM ${alloc} WHERE payment_id IN (${payments})`,
    ]),
  );
  const reached = `payment_id IN (${payments}) OR invoice_id IN (SELECT id FROM _m_fin_invoice_ids)`;
  await ctx.temp(
    '_m_fin_allocation_ids',
    union([
      ...delta('payment_allocations'),
      `SELECT id FROM payment_allocations WHERE ${reached}`,
      `SELECT id FROM ${alloc} WHERE ${reached}`,
    ]),
  );
  await replaceFacts(
    ctx,
    inv,
    '_m_fin_invoice_ids',
    invoiceFacts(asOf, '_m_fin_invoice_ids'),
    '_m_fin_inv',
  );
  await replaceFacts(
    ctx,
    alloc,
    '_m_fin_allocation_ids',
    allocationFacts('_m_fin_allocation_ids'),
    '_m_fin_alloc',
  );
  await replaceFacts(
    ctx,
    pay,
    '_m_fin_payment_ids',
    paymentFacts(asOf, '_m_fin_payment_ids'),
    '_m_fin_pay',
  );
  const added = contributions(
    { inv: '_m_fin_inv_new', alloc: '_m_fin_alloc_new', pay: '_m_fin_pay_new' },
    '1',
  );
  const removed = contributions(
    { inv: '_m_fin_inv_old', alloc: '_m_fin_alloc_old', pay: '_m_fin_pay_old' },
    '-1',
  );
  for (const t of Object.keys(SUMS) as SumTable[]) {
    const key = SUMS[t].key.join(', ');
    await ctx.temp(
      '_m_fin_changes',
      `SELECT ${key}, ${sumList(t)}
         FROM (${added[t]} UNION ALL ${removed[t]}) GROUP BY ${key}`,
    );
    await mergeSums(
      ctx,
      ctx.base(t, 'patch'),
      SUMS[t].key,
      [],
      sumList(t),
      '_m_fin_changes',
      'facts',
    );
  }
}

/** The kept sums of every scope and period, read for the payloads. */
async function financeRows(ctx: MetricContext, mode: BaseMode) {
  const table = (t: SumTable) => ctx.base(t, mode);

  // Months overlapping each window, so empty months still appear.
  const months = byScope(
    await ctx.rows<Keyed & { month: string }>(
      `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period,
              strftime(unnest(generate_series(date_trunc('month', start_date),
                                             date_trunc('month', end_date), INTERVAL 1 MONTH)),
                       '%Y-%m') AS month
         FROM _m_windows ORDER BY month`,
    ),
  );
  type MonthRow = Keyed & {
    month: string;
    invoiced: number;
    collected: number;
    payments: number;
    esa: number;
  };
  const byMonth = byScope(
    await ctx.rows<MonthRow>(
      `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period, strftime(month, '%Y-%m') AS month,
              invoiced::DOUBLE AS invoiced, collected::DOUBLE AS collected,
              payments::DOUBLE AS payments, esa::DOUBLE AS esa
         FROM ${table('fin_months')}`,
    ),
  );
  const bySchool = byScope(
    await ctx.rows<Keyed & { school_id: string; invoiced: number; collected: number }>(
      `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period, unit::VARCHAR AS school_id,
              invoiced::DOUBLE AS invoiced, collected::DOUBLE AS collected
         FROM ${table('fin_schools')}`,
    ),
  );
  const cohort = byScope(
    await ctx.rows<Keyed & { invoiced: number; collected: number }>(
      `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period,
              invoiced::DOUBLE AS invoiced, collected::DOUBLE AS collected
         FROM ${table('fin_cohort')}`,
    ),
  );
  const agingRows = await ctx.rows<{
    scope_kind: string;
    scope_id: string;
    school_id: string;
    bucket: string;
    invoices: number;
    cents: number;
  }>(
    `SELECT scope_kind, scope_id::VARCHAR AS scope_id, unit::VARCHAR AS school_id, bucket,
            facts AS invoices, balance::DOUBLE AS cents
       FROM ${table('fin_aging')}`,
  );
  const agingByScope = groupBy(
    agingRows,
    (r) => `${r.scope_kind}|${r.scope_kind === 'tenant' ? '' : r.scope_id}`,
  );
  return { months, byMonth, bySchool, cohort, agingByScope };
}

/** One scope and period's payload from the kept sums. */
function financePayload(
  s: ScopeWindow,
  rows: Awaited<ReturnType<typeof financeRows>>,
): FinancePayload {
  const key = scopeKey(s.scopeKind, s.scopeId, s.period);
  const figures = new Map((rows.byMonth.get(key) ?? []).map((r) => [r.month, r]));
  const monthList = (rows.months.get(key) ?? []).map((m) => ({
    month: m.month,
    invoiced_cents: figures.get(m.month)?.invoiced ?? 0,
    collected_cents: figures.get(m.month)?.collected ?? 0,
    payments_cents: figures.get(m.month)?.payments ?? 0,
  }));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const esa = sum([...figures.values()].map((p) => p.esa));
  const paid = sum([...figures.values()].map((p) => p.payments));
  const c = rows.cohort.get(key)?.[0];
  const aging = rows.agingByScope.get(`${s.scopeKind}|${s.scopeId ?? ''}`) ?? [];
  const buckets = AGING_BUCKETS.map((bucket) => {
    const inBucket = aging.filter((a) => a.bucket === bucket);
    return {
      bucket,
      invoices: sum(inBucket.map((r) => r.invoices)),
      balance_cents: sum(inBucket.map((r) => r.cents)),
    };
  });
  const schools = new Map((rows.bySchool.get(key) ?? []).map((r) => [r.school_id, r]));
  const agingSchool = groupBy(aging, (r) => r.school_id);
  const schoolIds = [...new Set([...schools.keys(), ...agingSchool.keys()])].sort();
  const payload: FinancePayload = {
    window: s.window,
    months: monthList,
    invoiced_cents: sum(monthList.map((m) => m.invoiced_cents)),
    collected_cents: sum(monthList.map((m) => m.collected_cents)),
    collection_rate: {
      invoiced_cents: c?.invoiced ?? 0,
      collected_cents: c?.collected ?? 0,
      rate: ratio(c?.collected ?? 0, c?.invoiced ?? 0),
    },
    outstanding: {
      open_invoices: sum(buckets.map((b) => b.invoices)),
      balance_cents: sum(buckets.map((b) => b.balance_cents)),
    },
    ar_aging: buckets,
    esa_share: { esa_cents: esa, total_cents: paid, rate: ratio(esa, paid) },
    by_school: schoolIds.map((id) => ({
      school_id: id === NO_UNIT ? null : id,
      invoiced_cents: schools.get(id)?.invoiced ?? 0,
      collected_cents: schools.get(id)?.collected ?? 0,
      open_invoices: sum((agingSchool.get(id) ?? []).map((r) => r.invoices)),
      outstanding_cents: sum((agingSchool.get(id) ?? []).map((r) => r.cents)),
    })),
  };
  return payload;
}

export async function financeSnapshots(
  ctx: MetricContext,
  mode: BaseMode = 'temp',
): Promise<MetricSnapshot<'finance'>[]> {
  if (mode === 'temp') await financeBase(ctx, 'temp');
  const rows = await financeRows(ctx, mode);
  return ctx.scopes.map((s) => ({
    metric: 'finance' as const,
    scopeKind: s.scopeKind,
    scopeId: s.scopeId,
    period: s.period,
    asOf: ctx.asOf,
    payload: financePayload(s, rows),
  }));
}
