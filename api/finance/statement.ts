import { and, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { Principal } from '../auth/principal.js';
import { rowScope } from '../auth/scope.js';
import { ApiError } from '../problems.js';
import { accountRules, invoiceRules } from './scope.js';
import { todayIn } from '../../db/dates.js';
import type { TenantSchema } from '../../db/schema/types.js';

export interface StatementEntry {
  date: string;
  kind: 'invoice' | 'void' | 'payment';
  invoice_id: string | null;
  payment_id: string | null;
  reference: string | null;
  amount_cents: number;
  balance_cents: number;
}

export interface StatementInput {
  accountId: string;
  /** The account's school: its time zone dates the entries. */
  schoolId: string | null;
  /** The tenant's time zone, for an account with no school or a school with none. */
  tenantTimezone: string;
  /** First day; null from the beginning. */
  from: string | null;
  /** Last day; null for today (in the account's zone). */
  to: string | null;
  /**
   * The condition on `invoices` of the part of the family's ledger shown (see
   * statementPart); undefined for the whole account.
   */
  part?: SQL;
}

interface LedgerRow extends Record<string, unknown> {
  day: string;
  kind: 'invoice' | 'void' | 'payment';
  invoice_id: string | null;
  payment_id: string | null;
  reference: string | null;
  amount: string;
}

/** The time zone if the runtime knows it, else UTC (a bad setting must not fail a statement). */
function knownZone(tz: string | null | undefined): string {
  if (!tz) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    return 'UTC';
  }
}

/** `column` (a timestamptz) as a local day in zone `tz`. */
const localDay = (column: string, tz: string) =>
  sql.raw(`(${column} at time zone `).append(sql`${tz})::date`);

/** The zone of the account's school (the tenant's with no school, UTC for an unknown one). */
async function statementZone(tx: Tx<TenantSchema>, input: StatementInput): Promise<string> {
  const [zone] = input.schoolId
    ? await tx
        .select({ tz: t.orgUnits.timezone })
        .from(t.orgUnits)
        .where(eq(t.orgUnits.id, input.schoolId))
    : [];
  return knownZone(zone?.tz ?? input.tenantTimezone);
}

/**
 * The ledger up to `to`, oldest first: charges, voids and payments (of a part, what was
 * allocated to its invoices).
 */
async function ledgerOf(
  tx: Tx<TenantSchema>,
  id: string,
  part: SQL | undefined,
  tz: string,
  to: string,
): Promise<LedgerRow[]> {
  const visible = part ?? sql`true`;
  // A part counts of each payment what was allocated to the invoices in it.
  const paid = part ? sql`-a.cents` : sql`-amount_cents::bigint`;
  const allocated = part
    ? sql`join (
        select pa.payment_id, sum(pa.amount_cents)::bigint as cents
        from payment_allocations pa join invoices on invoices.id = pa.invoice_id
        where pa.deleted_at is null and invoices.deleted_at is null and ${part}
        group by pa.payment_id
      ) a on a.payment_id = payments.id`
    : sql``;
  return rowsOf<LedgerRow>(
    await tx.execute(sql`
      select day::text, kind, invoice_id::text, payment_id::text, reference, amount::text
      from (
        select issue_date as day, 0 as k, 'invoice' as kind, id as invoice_id,
               null::uuid as payment_id, number as reference, total_cents::bigint as amount
        from invoices
        where account_id = ${id}::uuid and deleted_at is null and status <> 'draft' and ${visible}
        union all
        select ${localDay('voided_at', tz)}, 1, 'void', id, null, number, -total_cents::bigint
        from invoices
        where account_id = ${id}::uuid and deleted_at is null and status = 'void'
          and voided_at is not null and ${visible}
        union all
        select ${localDay('received_at', tz)}, 2, 'payment', null, id, reference, ${paid}
        from payments
        ${allocated}
        where account_id = ${id}::uuid and deleted_at is null and status = 'succeeded'
      ) l
      where day <= ${to}::date
      order by day, k, reference, coalesce(invoice_id, payment_id)`),
  );
}

/** The entries from `from` on with their running balance, and the balance before them. */
function runningEntries(ledger: LedgerRow[], from: string | null) {
  let balance = 0;
  let opening = 0;
  const entries: StatementEntry[] = [];
  for (const l of ledger) {
    const amount = Number(l.amount);
    balance += amount;
    if (from && l.day < from) {
      opening = balance;
      continue;
    }
    entries.push({
      date: l.day,
      kind: l.kind,
      invoice_id: l.invoice_id,
      payment_id: l.payment_id,
      reference: l.reference,
      amount_cents: amount,
      balance_cents: balance,
    });
  }
  return { opening, entries, closing: balance };
}

/** The invoices issued by `to` that are still owed or that an entry names. */
async function statementInvoices(
  tx: Tx<TenantSchema>,
  id: string,
  part: SQL | undefined,
  to: string,
  entries: StatementEntry[],
) {
  const touched = new Set(entries.flatMap((e) => (e.invoice_id ? [e.invoice_id] : [])));
  const rows = await tx
    .select()
    .from(t.invoices)
    .where(
      and(
        eq(t.invoices.accountId, id),
        isNull(t.invoices.deletedAt),
        part,
        sql`${t.invoices.issueDate} <= ${to}::date`,
        sql`(${t.invoices.status} in ('open', 'uncollectible') or ${t.invoices.id} in ${
          touched.size > 0
            ? sql`(${sql.join(
                [...touched].map((x) => sql`${x}::uuid`),
                sql`, `,
              )})`
            : sql`(null::uuid)`
        })`,
      ),
    )
    .orderBy(t.invoices.issueDate, t.invoices.number);
  return rows.map((i) => ({
    id: i.id,
    number: i.number,
    status: i.status,
    issue_date: i.issueDate,
    due_date: i.dueDate,
    total_cents: i.totalCents,
    amount_paid_cents: i.amountPaidCents,
    balance_cents: i.balanceCents,
  }));
}

/** The payments the entries name, with their allocations (of a part, to its invoices). */
async function statementPayments(
  tx: Tx<TenantSchema>,
  part: SQL | undefined,
  entries: StatementEntry[],
) {
  const paymentIds = entries.flatMap((e) => (e.payment_id ? [e.payment_id] : []));
  const paymentRows = paymentIds.length
    ? await tx.select().from(t.payments).where(inArray(t.payments.id, paymentIds))
    : [];
  const allocations = await allocationsTo(tx, paymentIds, part);
  const paymentDay = new Map(entries.map((e) => [e.payment_id, e.date]));
  const shownAmount = new Map(entries.map((e) => [e.payment_id, -e.amount_cents]));
  const byPayment = new Map(paymentRows.map((p) => [p.id, p]));
  return paymentIds.map((pid) => {
    const p = byPayment.get(pid)!;
    return {
      id: p.id,
      received_on: paymentDay.get(pid)!,
      method: p.method,
      amount_cents: part ? shownAmount.get(pid)! : p.amountCents,
      unapplied_cents: part ? 0 : p.unappliedCents,
      allocations: allocations
        .filter((a) => a.paymentId === pid)
        .map((a) => ({ invoice_id: a.invoiceId, amount_cents: a.amountCents })),
    };
  });
}

/** Unapplied credit now of the succeeded payments received by `to`. */
async function unappliedCredit(
  tx: Tx<TenantSchema>,
  id: string,
  tz: string,
  to: string,
): Promise<number> {
  const [credit] = await tx
    .select({ cents: sql<string>`coalesce(sum(${t.payments.unappliedCents}), 0)::text` })
    .from(t.payments)
    .where(
      and(
        eq(t.payments.accountId, id),
        isNull(t.payments.deletedAt),
        eq(t.payments.status, 'succeeded'),
        sql`${localDay('received_at', tz)} <= ${to}::date`,
      ),
    );
  return Number(credit?.cents ?? 0);
}

/**
 * The account statement: every issued invoice is a charge on its issue date, a voided one
 * is reversed on the day it was voided, every succeeded payment is a credit on the day it
 * was received (days in the school's time zone, the tenant's with no school). Opening +
 * entries = closing.
 */
export async function accountStatement(tx: Tx<TenantSchema>, input: StatementInput) {
  const { accountId: id, from, part } = input;
  const tz = await statementZone(tx, input);
  const to = input.to ?? todayIn(tz);
  if (from && from > to)
    throw new ApiError('validation_failed', '`from` must not be after `to`.', {
      invalidParams: [{ name: 'query.from', reason: 'must not be after `to`' }],
    });
  const { opening, entries, closing } = runningEntries(await ledgerOf(tx, id, part, tz, to), from);
  return {
    account_id: id,
    from,
    to,
    currency: 'USD',
    opening_balance_cents: opening,
    entries,
    invoices: await statementInvoices(tx, id, part, to, entries),
    payments: await statementPayments(tx, part, entries),
    credit_cents: part ? 0 : await unappliedCredit(tx, id, tz, to),
    closing_balance_cents: closing,
    whole_account: part === undefined,
  };
}

/**
 * The live allocations of these payments, oldest first; only those to the invoices that
 * `invoices` (a condition on `invoices`) admits, when given.
 */
export async function allocationsTo(
  tx: Tx<TenantSchema>,
  paymentIds: string[],
  invoices: SQL | undefined,
) {
  if (paymentIds.length === 0) return [];
  return tx
    .select()
    .from(t.paymentAllocations)
    .where(
      and(
        inArray(t.paymentAllocations.paymentId, paymentIds),
        isNull(t.paymentAllocations.deletedAt),
        invoices &&
          inArray(
            t.paymentAllocations.invoiceId,
            tx.select({ id: t.invoices.id }).from(t.invoices).where(invoices),
          ),
      ),
    )
    .orderBy(t.paymentAllocations.createdAt, t.paymentAllocations.id);
}

/**
 * Undefined when the caller reaches the whole ledger (a tenant-wide role, or a guardian on
 * the account); else the condition on `invoices` of the part they reach (their schools').
 */
export async function statementPart(
  tx: Tx<TenantSchema>,
  principal: Principal,
  accountId: string,
  /** `finance.read` for what they see; `finance.write` for what their payment may pay. */
  permission: 'finance.read' | 'finance.write' = 'finance.read',
): Promise<SQL | undefined> {
  const { whole, part } = await statementParts(tx, principal, [accountId], permission);
  return whole.has(accountId) ? undefined : part;
}

/**
 * Of each of these accounts, the part of the family's ledger the caller reaches: `whole`,
 * the accounts they see whole (every account for a tenant-wide role; a guardian's own);
 * `part`, the condition on `invoices` of what they see of the others (their schools'
 * invoices, `false` when none).
 */
export async function statementParts(
  tx: Tx<TenantSchema>,
  principal: Principal,
  accountIds: readonly string[],
  permission: 'finance.read' | 'finance.write' = 'finance.read',
): Promise<{ whole: Set<string>; part: SQL }> {
  const guardian = await rowScope(tx, principal, permission, {
    parent: accountRules(t.billingAccounts.id).parent,
  });
  if (guardian === undefined || accountIds.length === 0)
    return { whole: new Set(accountIds), part: sql`true` };
  const whole = await tx
    .select({ id: t.billingAccounts.id })
    .from(t.billingAccounts)
    .where(and(inArray(t.billingAccounts.id, [...accountIds]), guardian));
  return {
    whole: new Set(whole.map((w) => w.id)),
    part: (await rowScope(tx, principal, permission, invoiceRules)) ?? sql`false`,
  };
}
