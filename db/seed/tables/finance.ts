import type { TableSource } from '../copy.js';
import { simulateAccount } from '../finance/account.js';
import { FinanceOrdinals, type AccountBook } from '../finance/records.js';
import { IdSequence } from '../random.js';
import { Table, type World } from '../world/model.js';
import type { TableContext } from './context.js';
import { esaIds } from './esa.js';

/**
 * Finance: one billing account per family, its invoices, lines, payments and allocations.
 * The last four replay the same per-account simulation (db/seed/finance/account.ts), in the same
 * order, so each table streams without holding the others.
 */

function financeIds(world: World) {
  const { students } = world;
  return {
    accountIds: world.ids(Table.account, world.families.length),
    invoiceIds: world.ids(Table.invoice, students.length * 26),
    paymentIds: world.ids(Table.payment, students.length * 30),
  };
}

/** Every family's account book, simulated afresh, in family order. */
function* accountBooks(world: World): Generator<[number, AccountBook]> {
  const ord = new FinanceOrdinals();
  for (const f of world.families) yield [f.idx, simulateAccount(world, f.idx, ord)];
}

function billingAccounts(t: TableContext): TableSource {
  const { world, ts } = t;
  const { schools, students } = world;
  const { accountIds } = financeIds(world);
  return {
    table: 'billing_accounts',
    columns: [
      'id',
      'account_number',
      'name',
      'primary_guardian_id',
      'school_id',
      'status',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const f of world.families) {
        const kids = f.students.map((k) => students[k]!);
        const active = kids.some((s) => s.status === 'active');
        const created = ts(f.createdMs);
        const updated = active
          ? created
          : ts(Math.max(f.createdMs, ...kids.map((s) => s.updatedMs)));
        yield [
          accountIds.at(f.idx),
          `A${String(100001 + f.idx)}`,
          `${f.lastName} Family`,
          world.guardians[f.guardians[0]!]!.id,
          schools[kids[0]!.schoolIdx]!.id,
          active ? 'active' : 'closed',
          created,
          updated,
        ];
      }
    },
  };
}

function billingAccountGuardians(t: TableContext): TableSource {
  const { world, ts } = t;
  const { accountIds } = financeIds(world);
  return {
    table: 'billing_account_guardians',
    columns: ['id', 'account_id', 'guardian_id', 'created_at', 'updated_at'],
    *rows() {
      const ids = new IdSequence(world.ids(Table.accountGuardian, world.guardians.length));
      for (const f of world.families) {
        const at = ts(f.createdMs);
        for (const g of f.guardians)
          yield [ids.next(), accountIds.at(f.idx), world.guardians[g]!.id, at, at];
      }
    },
  };
}

function invoices(t: TableContext): TableSource {
  const { world, ts, dateOrNull } = t;
  const { schools, students } = world;
  const { accountIds, invoiceIds } = financeIds(world);
  const books = () => accountBooks(world);
  return {
    table: 'invoices',
    columns: [
      'id',
      'number',
      'account_id',
      'student_id',
      'school_id',
      'issue_date',
      'due_date',
      'status',
      'currency',
      'subtotal_cents',
      'total_cents',
      'amount_paid_cents',
      'balance_cents',
      'memo',
      'issued_at',
      'paid_at',
      'voided_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const [f, book] of books()) {
        for (const inv of book.invoices) {
          yield [
            invoiceIds.at(inv.ordinal),
            inv.number,
            accountIds.at(f),
            students[inv.studentIdx]!.id,
            schools[inv.schoolIdx]!.id,
            dateOrNull(inv.issueDay),
            dateOrNull(inv.dueDay),
            inv.status,
            'USD',
            inv.total,
            inv.total,
            inv.paid,
            inv.total - inv.paid,
            inv.memo,
            inv.issuedMs === null ? null : ts(inv.issuedMs),
            inv.paidMs === null ? null : ts(inv.paidMs),
            inv.voidedMs === null ? null : ts(inv.voidedMs),
            ts(inv.createdMs),
            ts(inv.updatedMs),
          ];
        }
      }
    },
  };
}

function invoiceLines(t: TableContext): TableSource {
  const { world, ts } = t;
  const { students } = world;
  const { invoiceIds } = financeIds(world);
  const books = () => accountBooks(world);
  return {
    table: 'invoice_lines',
    columns: [
      'id',
      'invoice_id',
      'position',
      'description',
      'quantity',
      'unit_amount_cents',
      'amount_cents',
      'created_at',
      'updated_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.invoiceLine, students.length * 26 * 3));
      for (const [, book] of books()) {
        for (const inv of book.invoices) {
          const at = ts(inv.createdMs);
          const id = invoiceIds.at(inv.ordinal);
          for (let i = 0; i < inv.lines.length; i++) {
            const l = inv.lines[i]!;
            yield [
              ids.next(),
              id,
              i + 1,
              l.description,
              l.quantity,
              l.unit,
              l.quantity * l.unit,
              at,
              at,
            ];
          }
        }
      }
    },
  };
}

function payments(t: TableContext): TableSource {
  const { world, ts } = t;
  const { disbursementIds } = esaIds(world);
  const { accountIds, paymentIds } = financeIds(world);
  const books = () => accountBooks(world);
  return {
    table: 'payments',
    columns: [
      'id',
      'account_id',
      'method',
      'amount_cents',
      'unapplied_cents',
      'received_at',
      'reference',
      'esa_disbursement_id',
      'status',
      'created_at',
      'updated_at',
    ],
    *rows() {
      for (const [f, book] of books()) {
        for (const p of book.payments) {
          const at = ts(p.receivedMs);
          yield [
            paymentIds.at(p.ordinal),
            accountIds.at(f),
            p.method,
            p.amount,
            p.unapplied,
            at,
            p.reference,
            p.disbursement >= 0 ? disbursementIds.at(p.disbursement) : null,
            p.status,
            at,
            ts(p.updatedMs),
          ];
        }
      }
    },
  };
}

function paymentAllocations(t: TableContext): TableSource {
  const { world, ts } = t;
  const { students } = world;
  const { invoiceIds, paymentIds } = financeIds(world);
  const books = () => accountBooks(world);
  return {
    table: 'payment_allocations',
    columns: ['id', 'payment_id', 'invoice_id', 'amount_cents', 'created_at', 'updated_at'],
    *rows() {
      const ids = world.ids(Table.allocation, students.length * 30);
      for (const [, book] of books()) {
        for (const a of book.allocations) {
          const at = ts(a.ms);
          yield [
            ids.at(a.ordinal),
            paymentIds.at(a.payment),
            invoiceIds.at(a.invoice),
            a.amount,
            at,
            at,
          ];
        }
      }
    },
  };
}

/** The finance tables, in foreign-key order. */
export function financeTables(t: TableContext): TableSource[] {
  return [
    billingAccounts(t),
    billingAccountGuardians(t),
    invoices(t),
    invoiceLines(t),
    payments(t),
    paymentAllocations(t),
  ];
}
