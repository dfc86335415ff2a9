/**
 * Family billing, simulated per account in time order: monthly tuition invoices, ESA
 * disbursements paid in as soon as they arrive, family payments by payer profile (autopay,
 * prompt, late, delinquent, defaulting), partial and failed payments, overpayments kept as
 * credit and applied to the next invoice, voids and write-offs.
 *
 * Every allocation is created by the simulation, so each invoice's amount paid is exactly the
 * sum of its allocations and each payment's unapplied amount is exactly what is left of it.
 * The invoices, lines, payments and allocations tables each re-run the simulation account by
 * account (it is cheap) instead of holding a few million rows in memory.
 */
import { DAY_MS, HOUR_MS, dayOf, endOfMonth, localMs, ymdOf } from './dates.js';
import { Stream, hashFloat, rngFor, type Rng } from './random.js';
import { atMost, DayKind, type Family, type School, type World } from './world/model.js';

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
export type PaymentMethod = 'card' | 'ach' | 'esa' | 'check' | 'cash';

export interface InvoiceLine {
  description: string;
  quantity: number;
  unit: number;
}

export interface Invoice {
  ordinal: number;
  number: string;
  studentIdx: number;
  schoolIdx: number;
  /** -1 for a draft. */
  issueDay: number;
  dueDay: number;
  status: InvoiceStatus;
  lines: InvoiceLine[];
  total: number;
  paid: number;
  createdMs: number;
  issuedMs: number | null;
  paidMs: number | null;
  voidedMs: number | null;
  updatedMs: number;
  memo: string | null;
}

export interface Payment {
  ordinal: number;
  method: PaymentMethod;
  amount: number;
  unapplied: number;
  receivedMs: number;
  reference: string | null;
  /** Ordinal of the ESA disbursement that funded it, or -1. */
  disbursement: number;
  status: 'succeeded' | 'failed';
  updatedMs: number;
}

export interface Allocation {
  ordinal: number;
  payment: number;
  invoice: number;
  amount: number;
  ms: number;
}

export interface AccountBook {
  invoices: Invoice[];
  payments: Payment[];
  allocations: Allocation[];
}

/** Running ordinals across accounts, so ids follow the order rows are written in. */
export class FinanceOrdinals {
  invoice = 0;
  payment = 0;
  allocation = 0;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const LUNCH_CENTS = 475;
const CARE_CENTS = 245_00;
const REGISTRATION_CENTS = 150_00;

type EventKind = 0 | 1 | 2 | 3 | 4; // issue, esa, pay, void, write-off (tie order)

interface EventInit {
  ms: number;
  kind: EventKind;
  invoice?: Invoice;
  group?: Invoice[];
  fraction?: number;
  retry?: boolean;
  esa?: { ordinal: number; amount: number; studentIdx: number; state: string };
}

interface Event {
  ms: number;
  kind: EventKind;
  seq: number;
  invoice: Invoice | null;
  group: Invoice[] | null;
  fraction: number;
  retry: boolean;
  esa: { ordinal: number; amount: number; studentIdx: number; state: string } | null;
}

interface Credit {
  payment: Payment;
  studentIdx: number; // -1: any invoice of the account
  left: number;
}

/** Instructional days of a school in a month (for the lunch line), cached per world. */
const lunchDays = new WeakMap<World, Map<string, number>>();
function instructionalDaysIn(world: World, school: School, year: number, month: number): number {
  let cache = lunchDays.get(world);
  if (!cache) lunchDays.set(world, (cache = new Map()));
  const key = `${school.idx}:${year}:${month}`;
  let n = cache.get(key);
  if (n === undefined) {
    n = 0;
    const first = dayOf(year, month, 1);
    const last = endOfMonth(first);
    for (const cal of school.calendars) {
      for (let d = Math.max(first, cal.start); d <= last; d++) {
        const i = d - cal.start;
        if (i < cal.kinds.length && cal.kinds[i] === DayKind.instructional) n++;
      }
    }
    cache.set(key, n);
  }
  return n;
}

function methodFor(seed: number, family: Family, rng: Rng): PaymentMethod {
  if (family.payer === 'autopay') return hashFloat(seed, family.idx, 11) < 0.8 ? 'ach' : 'card';
  const preferred = (['card', 'card', 'card', 'check', 'check', 'ach', 'cash'] as const)[
    Math.floor(hashFloat(seed, family.idx, 12) * 7)
  ]!;
  return rng.chance(0.1) ? rng.pick(['card', 'ach', 'check', 'cash'] as const) : preferred;
}

function referenceFor(method: PaymentMethod, rng: Rng, ordinal: number): string | null {
  switch (method) {
    case 'card':
      return `ch_${rng.next().toString(16).padStart(8, '0')}${(rng.next() & 0xffff).toString(16).padStart(4, '0')}`;
    case 'ach':
      return `ACH${String(rng.next() % 1_000_000_000).padStart(9, '0')}`;
    case 'check':
      return `Check #${1001 + (ordinal % 8999)}`;
    case 'cash':
      return `Receipt R-${String(ordinal + 1).padStart(7, '0')}`;
    case 'esa':
      return null;
  }
}

/** Plans every invoice and payment of one family's account and plays them out to as-of. */
export function simulateAccount(
  world: World,
  familyIdx: number,
  ord: FinanceOrdinals,
): AccountBook {
  const family = world.families[familyIdx]!;
  const rng = rngFor(world.seed, Stream.account, familyIdx);
  const book: AccountBook = { invoices: [], payments: [], allocations: [] };
  const events: Event[] = [];
  let seq = 0;
  let playing = false;
  const push = (e: EventInit) => {
    if (e.ms > world.cutoffMs) return;
    const event: Event = {
      ms: e.ms,
      kind: e.kind,
      seq: seq++,
      invoice: e.invoice ?? null,
      group: e.group ?? null,
      fraction: e.fraction ?? 1,
      retry: e.retry ?? false,
      esa: e.esa ?? null,
    };
    if (!playing) {
      events.push(event);
      return;
    }
    // While playing (a retried payment), keep the rest of the queue in order.
    let i = events.length;
    while (i > 0 && before(event, events[i - 1]!)) i--;
    events.splice(i, 0, event);
  };
  // Invoices issued with a wrong line are voided, so no credit or payment may touch them.
  const toVoid = new Set<Invoice>();
  const asOf = ymdOf(world.asOf);

  // --- invoices, and the family's plan for paying each month's batch ----------------------
  const batches = new Map<number, Invoice[]>();
  for (const k of family.students) {
    const s = world.students[k]!;
    for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
      const e = s.enroll[yearIdx];
      if (!e) continue;
      const school = world.schools[e.schoolIdx]!;
      const y = world.years[yearIdx]!.startYear;
      const plan =
        family.planMonths === 12
          ? Array.from({ length: 12 }, (_, i) => ({
              year: i < 6 ? y : y + 1,
              month: ((6 + i) % 12) + 1,
            }))
          : Array.from({ length: 10 }, (_, i) => ({
              year: i < 5 ? y : y + 1,
              month: ((7 + i) % 12) + 1,
            }));
      const monthly = Math.round(school.tuition / family.planMonths);
      const leftEarly = e.exitDay >= 0 && (e.status === 'withdrawn' || e.status === 'transferred');
      let first = true;
      for (const { year, month } of plan) {
        const monthFirst = dayOf(year, month, 1);
        const monthLast = endOfMonth(monthFirst);
        if (e.midYearEntry && monthLast < e.entryDay) continue;
        if (leftEarly && monthFirst > e.exitDay) break;
        const issueDay = e.midYearEntry && first ? e.entryDay : monthFirst;
        const draft =
          issueDay > world.asOf &&
          asOf.day >= 25 &&
          monthFirst === dayOf(asOf.year, asOf.month + 1, 1);
        if (issueDay > world.asOf && !draft) break;
        const lines: InvoiceLine[] = [];
        const prorate = e.midYearEntry && first && ymdOf(e.entryDay).day > 15 ? 0.5 : 1;
        const tuition = Math.round(monthly * prorate);
        lines.push({
          description: `Tuition — ${MONTHS[month - 1]} ${year}`,
          quantity: 1,
          unit: tuition,
        });
        if (first)
          lines.push({
            description: 'Annual registration fee',
            quantity: 1,
            unit: REGISTRATION_CENTS,
          });
        const days = s.lunch ? instructionalDaysIn(world, school, year, month) : 0;
        if (days > 0)
          lines.push({
            description: `Lunch program (${days} days)`,
            quantity: days,
            unit: LUNCH_CENTS,
          });
        if (s.care && month !== 6 && month !== 7) {
          lines.push({ description: 'Extended day care', quantity: 1, unit: CARE_CENTS });
        }
        if (s.siblingOrder > 0) {
          lines.push({
            description: 'Sibling discount (10%)',
            quantity: 1,
            unit: -Math.round(tuition * 0.1),
          });
        }
        first = false;
        const number = `INV-${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}-${String(s.idx + 1).padStart(6, '0')}`;
        const issuedMs = draft ? null : localMs(school.timezone, issueDay, 6);
        const createdMs = draft
          ? atMost(world, localMs(school.timezone, dayOf(asOf.year, asOf.month, 25), 6))
          : issuedMs!;
        const invoice = newInvoice(book, ord, {
          number,
          studentIdx: k,
          schoolIdx: school.idx,
          issueDay: draft ? -1 : issueDay,
          dueDay: draft ? -1 : endOfMonth(issueDay),
          status: draft ? 'draft' : 'open',
          lines,
          createdMs,
          issuedMs,
        });
        if (draft) continue;
        push({ ms: issuedMs!, kind: 0, invoice });
        // About 1 % go out with a wrong line, are voided within days and re-issued.
        if (hashFloat(world.seed, Stream.account, invoice.ordinal) < 0.01) {
          invoice.lines.push({ description: 'Tuition adjustment', quantity: 1, unit: tuition });
          invoice.total = sumLines(invoice.lines);
          invoice.memo = 'Issued in error: duplicate tuition line';
          toVoid.add(invoice);
          const voidMs = issuedMs! + rng.between(1, 4) * DAY_MS;
          push({ ms: voidMs, kind: 3, invoice });
          if (voidMs <= world.cutoffMs) {
            const fixed = newInvoice(book, ord, {
              number: `${number}-R`,
              studentIdx: k,
              schoolIdx: school.idx,
              issueDay: Math.floor(voidMs / DAY_MS),
              dueDay: Math.max(endOfMonth(issueDay), Math.floor(voidMs / DAY_MS)),
              status: 'open',
              lines: invoice.lines.slice(0, -1),
              createdMs: voidMs + 60_000,
              issuedMs: voidMs + 60_000,
            });
            fixed.memo = `Replaces ${number}`;
            push({ ms: fixed.issuedMs!, kind: 0, invoice: fixed });
            planPayments(world, family, rng, [fixed], push);
          }
          continue;
        }
        const batch = batches.get(issueDay) ?? [];
        batch.push(invoice);
        batches.set(issueDay, batch);
      }
    }
  }
  for (const [, batch] of [...batches.entries()].sort((a, b) => a[0] - b[0])) {
    planPayments(world, family, rng, batch, push);
  }

  // ESA money arrives as the state disburses it, for that student's invoices.
  for (const k of family.students) {
    for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
      const app = world.esaByStudentYear.get(k * 2 + yearIdx);
      if (!app) continue;
      const state = world.esaPrograms[app.programIdx]!.state;
      for (const d of app.disbursements) {
        if (d.status !== 'disbursed') continue;
        push({
          ms: d.disbursedDay * DAY_MS + 15 * HOUR_MS,
          kind: 1,
          esa: { ordinal: d.ordinal, amount: d.amount, studentIdx: k, state },
        });
      }
    }
  }

  // --- play the events out ------------------------------------------------------------------
  events.sort((a, b) => (before(a, b) ? -1 : 1));
  playing = true;
  const credits: Credit[] = [];
  const open = (inv: Invoice) =>
    inv.status === 'open' && inv.total - inv.paid > 0 && !toVoid.has(inv);
  const allocate = (payment: Payment, inv: Invoice, amount: number, ms: number) => {
    book.allocations.push({
      ordinal: ord.allocation++,
      payment: payment.ordinal,
      invoice: inv.ordinal,
      amount,
      ms,
    });
    inv.paid += amount;
    inv.updatedMs = Math.max(inv.updatedMs, ms);
    if (inv.paid === inv.total) {
      inv.status = 'paid';
      inv.paidMs = ms;
    }
  };
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    switch (ev.kind) {
      case 0: {
        const inv = ev.invoice!;
        for (const c of credits) {
          if (c.left <= 0 || !open(inv)) continue;
          if (c.studentIdx >= 0 && c.studentIdx !== inv.studentIdx) continue;
          const amount = Math.min(c.left, inv.total - inv.paid);
          allocate(c.payment, inv, amount, ev.ms);
          c.left -= amount;
          c.payment.unapplied = c.left;
          c.payment.updatedMs = ev.ms;
        }
        break;
      }
      case 1: {
        const esa = ev.esa!;
        const payment = newPayment(book, ord, rng, 'esa', esa.amount, ev.ms);
        payment.disbursement = esa.ordinal;
        payment.reference = `${esa.state}-ESA-${String(esa.ordinal + 1).padStart(7, '0')}`;
        let left = esa.amount;
        for (const inv of book.invoices) {
          if (left <= 0) break;
          if (inv.studentIdx !== esa.studentIdx || !open(inv) || inv.issuedMs! > ev.ms) continue;
          const amount = Math.min(left, inv.total - inv.paid);
          allocate(payment, inv, amount, ev.ms);
          left -= amount;
        }
        payment.unapplied = left;
        if (left > 0) credits.push({ payment, studentIdx: esa.studentIdx, left });
        break;
      }
      case 2: {
        const due = ev.group!.filter(open);
        const balance = due.reduce((n, inv) => n + inv.total - inv.paid, 0);
        if (balance <= 0) break;
        const method = methodFor(world.seed, family, rng);
        let amount = Math.ceil(balance * ev.fraction);
        if (method === 'card' && !ev.retry && rng.chance(0.015)) {
          // Declined card: recorded as failed, retried a few days later.
          newPayment(book, ord, rng, method, amount, ev.ms).status = 'failed';
          push({
            ms: ev.ms + rng.between(2, 5) * DAY_MS,
            kind: 2,
            group: ev.group!,
            fraction: ev.fraction,
            retry: true,
          });
          break;
        }
        const overpay = ev.fraction === 1 && method !== 'ach' && rng.chance(0.03);
        if (overpay) amount = Math.ceil((amount + 1) / 50_00) * 50_00;
        const payment = newPayment(book, ord, rng, method, amount, ev.ms);
        let left = amount;
        for (const inv of due) {
          if (left <= 0) break;
          const part = Math.min(left, inv.total - inv.paid);
          allocate(payment, inv, part, ev.ms);
          left -= part;
        }
        payment.unapplied = left;
        if (left > 0) credits.push({ payment, studentIdx: -1, left });
        break;
      }
      case 3: {
        const inv = ev.invoice!;
        toVoid.delete(inv);
        if (inv.status === 'open' && inv.paid === 0) {
          inv.status = 'void';
          inv.voidedMs = ev.ms;
          inv.updatedMs = ev.ms;
        }
        break;
      }
      case 4: {
        const inv = ev.invoice!;
        if (open(inv)) {
          inv.status = 'uncollectible';
          inv.updatedMs = ev.ms;
        }
        break;
      }
    }
  }
  return book;
}

/** Event order: time, then issue < ESA < payment < void < write-off, then creation order. */
function before(a: Event, b: Event): boolean {
  return a.ms !== b.ms ? a.ms < b.ms : a.kind !== b.kind ? a.kind < b.kind : a.seq < b.seq;
}

function sumLines(lines: InvoiceLine[]): number {
  let total = 0;
  for (const l of lines) total += l.quantity * l.unit;
  return total;
}

function newInvoice(
  book: AccountBook,
  ord: FinanceOrdinals,
  init: Pick<
    Invoice,
    | 'number'
    | 'studentIdx'
    | 'schoolIdx'
    | 'issueDay'
    | 'dueDay'
    | 'status'
    | 'lines'
    | 'createdMs'
    | 'issuedMs'
  >,
): Invoice {
  // An explicit literal (not a spread) keeps every invoice on one hidden class.
  const invoice: Invoice = {
    ordinal: ord.invoice++,
    number: init.number,
    studentIdx: init.studentIdx,
    schoolIdx: init.schoolIdx,
    issueDay: init.issueDay,
    dueDay: init.dueDay,
    status: init.status,
    lines: init.lines,
    total: sumLines(init.lines),
    paid: 0,
    createdMs: init.createdMs,
    issuedMs: init.issuedMs,
    paidMs: null,
    voidedMs: null,
    updatedMs: init.issuedMs ?? init.createdMs,
    memo: null,
  };
  book.invoices.push(invoice);
  return invoice;
}

function newPayment(
  book: AccountBook,
  ord: FinanceOrdinals,
  rng: Rng,
  method: PaymentMethod,
  amount: number,
  ms: number,
): Payment {
  const ordinal = ord.payment++;
  const payment: Payment = {
    ordinal,
    method,
    amount,
    unapplied: 0,
    receivedMs: ms,
    reference: referenceFor(method, rng, ordinal),
    disbursement: -1,
    status: 'succeeded',
    updatedMs: ms,
  };
  book.payments.push(payment);
  return payment;
}

/** When (and how much of) a month's invoices the family pays, by its payer profile. */
function planPayments(
  world: World,
  family: Family,
  rng: Rng,
  batch: Invoice[],
  push: (e: EventInit) => void,
): void {
  const issueDay = batch[0]!.issueDay;
  const dueDay = Math.max(...batch.map((i) => i.dueDay));
  const tz = world.schools[batch[0]!.schoolIdx]!.timezone;
  const at = (day: number) => localMs(tz, day, rng.uniform(7, 21));
  const writeOff = (afterDays: number) => {
    for (const invoice of batch)
      push({ ms: (invoice.dueDay + afterDays) * DAY_MS + 12 * HOUR_MS, kind: 4, invoice });
  };
  switch (family.payer) {
    case 'autopay':
      push({
        ms: Math.max(dueDay - 3, issueDay + 1) * DAY_MS + 10 * HOUR_MS,
        kind: 2,
        group: batch,
        fraction: 1,
      });
      return;
    case 'prompt':
      push({ ms: at(issueDay + rng.between(1, 20)), kind: 2, group: batch, fraction: 1 });
      return;
    case 'late': {
      const when = dueDay + rng.between(3, 40);
      if (rng.chance(0.25)) {
        push({ ms: at(when), kind: 2, group: batch, fraction: 0.5 });
        push({ ms: at(when + rng.between(15, 40)), kind: 2, group: batch, fraction: 1 });
      } else {
        push({ ms: at(when), kind: 2, group: batch, fraction: 1 });
      }
      return;
    }
    case 'delinquent': {
      const u = rng.float();
      if (u < 0.45)
        push({ ms: at(dueDay + rng.between(40, 150)), kind: 2, group: batch, fraction: 1 });
      else if (u < 0.75)
        push({ ms: at(dueDay + rng.between(20, 60)), kind: 2, group: batch, fraction: 0.5 });
      if (rng.chance(0.5)) writeOff(180);
      return;
    }
    case 'defaulting': {
      // Pays for a few months, then stops; collections writes the rest off after 120 days.
      const stopsAfter = world.years[0]!.startDay + 60 + (family.idx % 5) * 45;
      if (issueDay < stopsAfter)
        push({ ms: at(issueDay + rng.between(3, 25)), kind: 2, group: batch, fraction: 1 });
      else writeOff(120);
      return;
    }
  }
}
