/**
 * Finance (SPEC §7). Amounts are integer cents.
 *
 * - School of an invoice: its school, else its billing account's school; of a payment: its
 *   account's school. Facts with neither count for the tenant only.
 * - Invoiced: totals of invoices that are not draft and not void, by issue date.
 * - Collected: payment allocations of succeeded payments, by the payment's received date
 *   (local), attributed to the invoice's school. Allocations (not payments) are used so
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
 */
import { MetricContext, NO_UNIT, byScope, groupBy, ratio, scopeKey } from './context.js';
import { AGING_BUCKETS, type FinancePayload, type MetricSnapshot } from './types.js';

interface Keyed {
  scope_kind: string;
  scope_id: string;
  period: string;
}

export async function financeSnapshots(ctx: MetricContext): Promise<MetricSnapshot<'finance'>[]> {
  const asOf = ctx.asOfSql;
  await ctx.temp(
    '_m_invoice_units',
    `SELECT i.id, coalesce(i.school_id, ba.school_id, '${NO_UNIT}'::UUID) AS unit, i.issue_date,
            i.due_date, i.status, i.total_cents, i.balance_cents
       FROM invoices i LEFT JOIN billing_accounts ba ON ba.id = i.account_id`,
  );
  await ctx.temp(
    '_m_allocations',
    `SELECT pa.invoice_id, pa.amount_cents, p.received_at::DATE AS received_on, iu.unit
       FROM payment_allocations pa
       JOIN payments p ON p.id = pa.payment_id AND p.status = 'succeeded'
       JOIN _m_invoice_units iu ON iu.id = pa.invoice_id`,
  );
  await ctx.temp(
    '_m_payments',
    `SELECT p.method, p.amount_cents, p.received_at::DATE AS received_on,
            coalesce(ba.school_id, '${NO_UNIT}'::UUID) AS unit
       FROM payments p LEFT JOIN billing_accounts ba ON ba.id = p.account_id
      WHERE p.status = 'succeeded' AND p.received_at::DATE <= ${asOf}`,
  );
  // Receivables at the as-of date (no window: a point in time).
  await ctx.temp(
    '_m_receivables',
    `WITH later AS (
       SELECT invoice_id, sum(amount_cents) AS cents FROM _m_allocations
        WHERE received_on > ${asOf} GROUP BY ALL)
     SELECT iu.id, iu.unit, iu.due_date, iu.balance_cents + coalesce(later.cents, 0) AS balance,
            CASE WHEN iu.due_date IS NULL OR ${asOf} - iu.due_date <= 0 THEN 'current'
                 WHEN ${asOf} - iu.due_date <= 30 THEN '1_30'
                 WHEN ${asOf} - iu.due_date <= 60 THEN '31_60'
                 WHEN ${asOf} - iu.due_date <= 90 THEN '61_90'
                 ELSE '90_plus' END AS bucket
       FROM _m_invoice_units iu LEFT JOIN later ON later.invoice_id = iu.id
      WHERE iu.status IN ('open', 'paid') AND iu.issue_date <= ${asOf}
        AND iu.balance_cents + coalesce(later.cents, 0) > 0`,
  );

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
  // Grouped on raw keys (UUIDs, first days of months); rendered as text afterwards.
  const windowed = (table: string, dateCol: string, value: string, extra: 'month' | 'school') => `
    SELECT * REPLACE (scope_id::VARCHAR AS scope_id,
                      ${extra === 'month' ? `strftime(month, '%Y-%m') AS month` : 'school_id::VARCHAR AS school_id'})
      FROM (
        SELECT sw.scope_kind, sw.scope_id, sw.period,
               ${extra === 'month' ? `date_trunc('month', f.${dateCol}) AS month` : 'f.unit AS school_id'},
               ${value}
          FROM ${table} f
          JOIN _m_scope_windows sw ON sw.unit_id = f.unit
           AND f.${dateCol} BETWEEN sw.start_date AND sw.end_date
         GROUP BY ALL)`;

  type Cents = Keyed & { cents: number };
  const invoicedByMonth = byScope(
    await ctx.rows<Cents & { month: string }>(
      windowed(
        `(SELECT * FROM _m_invoice_units WHERE status NOT IN ('draft', 'void'))`,
        'issue_date',
        `sum(f.total_cents)::DOUBLE AS cents`,
        'month',
      ),
    ),
  );
  const collectedByMonth = byScope(
    await ctx.rows<Cents & { month: string }>(
      windowed('_m_allocations', 'received_on', `sum(f.amount_cents)::DOUBLE AS cents`, 'month'),
    ),
  );
  const paymentsByMonth = byScope(
    await ctx.rows<Cents & { month: string; esa: number }>(
      windowed(
        '_m_payments',
        'received_on',
        `sum(f.amount_cents)::DOUBLE AS cents,
         coalesce(sum(f.amount_cents) FILTER (f.method = 'esa'), 0)::DOUBLE AS esa`,
        'month',
      ),
    ),
  );
  const invoicedBySchool = byScope(
    await ctx.rows<Cents & { school_id: string }>(
      windowed(
        `(SELECT * FROM _m_invoice_units WHERE status NOT IN ('draft', 'void'))`,
        'issue_date',
        `sum(f.total_cents)::DOUBLE AS cents`,
        'school',
      ),
    ),
  );
  const collectedBySchool = byScope(
    await ctx.rows<Cents & { school_id: string }>(
      windowed('_m_allocations', 'received_on', `sum(f.amount_cents)::DOUBLE AS cents`, 'school'),
    ),
  );
  // Cohort collection: invoices issued in the window, allocations received by the as-of date.
  const cohort = byScope(
    await ctx.rows<Keyed & { invoiced: number; collected: number }>(
      `WITH paid AS (
         SELECT invoice_id, sum(amount_cents) AS cents FROM _m_allocations
          WHERE received_on <= ${asOf} GROUP BY ALL)
       SELECT sw.scope_kind, sw.scope_id, sw.period,
              sum(iu.total_cents)::DOUBLE AS invoiced, coalesce(sum(paid.cents), 0)::DOUBLE AS collected
         FROM _m_invoice_units iu
         JOIN _m_scope_windows sw ON sw.unit_id = iu.unit
          AND iu.issue_date BETWEEN sw.start_date AND sw.end_date
         LEFT JOIN paid ON paid.invoice_id = iu.id
        WHERE iu.status NOT IN ('draft', 'void')
        GROUP BY ALL`,
    ),
  );
  type Aging = {
    scope_kind: string;
    scope_id: string;
    bucket: string;
    invoices: number;
    cents: number;
  };
  const agingRows = await ctx.rows<Aging & { school_id: string }>(
    `SELECT us.scope_kind, us.scope_id::VARCHAR AS scope_id, r.unit::VARCHAR AS school_id, r.bucket,
            count(*)::INTEGER AS invoices, sum(r.balance)::DOUBLE AS cents
       FROM _m_receivables r JOIN _m_unit_scopes us ON us.unit_id = r.unit
      GROUP BY ALL`,
  );
  const agingByScope = groupBy(
    agingRows,
    (r) => `${r.scope_kind}|${r.scope_kind === 'tenant' ? '' : r.scope_id}`,
  );

  return ctx.scopes.map((s) => {
    const key = scopeKey(s.scopeKind, s.scopeId, s.period);
    const inv = new Map((invoicedByMonth.get(key) ?? []).map((r) => [r.month, r.cents]));
    const col = new Map((collectedByMonth.get(key) ?? []).map((r) => [r.month, r.cents]));
    const pay = new Map((paymentsByMonth.get(key) ?? []).map((r) => [r.month, r]));
    const monthList = (months.get(key) ?? []).map((m) => ({
      month: m.month,
      invoiced_cents: inv.get(m.month) ?? 0,
      collected_cents: col.get(m.month) ?? 0,
      payments_cents: pay.get(m.month)?.cents ?? 0,
    }));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const esa = sum([...pay.values()].map((p) => p.esa));
    const paid = sum([...pay.values()].map((p) => p.cents));
    const c = cohort.get(key)?.[0];
    const aging = agingByScope.get(`${s.scopeKind}|${s.scopeId ?? ''}`) ?? [];
    const buckets = AGING_BUCKETS.map((bucket) => {
      const rows = aging.filter((a) => a.bucket === bucket);
      return {
        bucket,
        invoices: sum(rows.map((r) => r.invoices)),
        balance_cents: sum(rows.map((r) => r.cents)),
      };
    });
    const invSchool = new Map((invoicedBySchool.get(key) ?? []).map((r) => [r.school_id, r.cents]));
    const colSchool = new Map(
      (collectedBySchool.get(key) ?? []).map((r) => [r.school_id, r.cents]),
    );
    const agingSchool = groupBy(aging, (r) => r.school_id);
    const schoolIds = [
      ...new Set([...invSchool.keys(), ...colSchool.keys(), ...agingSchool.keys()]),
    ].sort();
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
        invoiced_cents: invSchool.get(id) ?? 0,
        collected_cents: colSchool.get(id) ?? 0,
        open_invoices: sum((agingSchool.get(id) ?? []).map((r) => r.invoices)),
        outstanding_cents: sum((agingSchool.get(id) ?? []).map((r) => r.cents)),
      })),
    };
    return {
      metric: 'finance' as const,
      scopeKind: s.scopeKind,
      scopeId: s.scopeId,
      period: s.period,
      asOf: ctx.asOf,
      payload,
    };
  });
}
