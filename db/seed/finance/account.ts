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
import { DAY_MS, HOUR_MS, dayOf, endOfMonth, localMs, ymdOf } from '../dates.js';
import { Stream, hashFloat, rngFor, type Rng } from '../random.js';
import {
  atMost,
  DayKind,
  type Family,
  type School,
  type Student,
  type World,
} from '../world/model.js';
import { before, planPayments, type Event, type EventInit } from './events.js';
import {
  newInvoice,
  newPayment,
  sumLines,
  type AccountBook,
  type FinanceOrdinals,
  type Invoice,
  type InvoiceLine,
  type Payment,
  type PaymentMethod,
} from './records.js';

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

/** Plans every invoice and payment of one family's account and plays them out to as-of. */
export function simulateAccount(
  world: World,
  familyIdx: number,
  ord: FinanceOrdinals,
): AccountBook {
  const sim = new AccountSimulation(world, familyIdx, ord);
  sim.planInvoices();
  sim.planEsa();
  sim.play();
  return sim.book;
}

/**
 * One account's simulation: invoices and payment plans become time-ordered events, which
 * `play` then applies. Every random draw comes from the account's own stream, in the order
 * the methods below make them.
 */
class AccountSimulation {
  readonly family: Family;
  readonly rng: Rng;
  readonly book: AccountBook = { invoices: [], payments: [], allocations: [] };
  private readonly events: Event[] = [];
  private seq = 0;
  private playing = false;
  /** Invoices issued with a wrong line are voided, so no credit or payment may touch them. */
  private readonly toVoid = new Set<Invoice>();
  private readonly credits: Credit[] = [];

  constructor(
    readonly world: World,
    familyIdx: number,
    readonly ord: FinanceOrdinals,
  ) {
    this.family = world.families[familyIdx]!;
    this.rng = rngFor(world.seed, Stream.account, familyIdx);
  }

  readonly push = (e: EventInit): void => {
    if (e.ms > this.world.cutoffMs) return;
    const event: Event = {
      ms: e.ms,
      kind: e.kind,
      seq: this.seq++,
      invoice: e.invoice ?? null,
      group: e.group ?? null,
      fraction: e.fraction ?? 1,
      retry: e.retry ?? false,
      esa: e.esa ?? null,
    };
    const events = this.events;
    if (!this.playing) {
      events.push(event);
      return;
    }
    // While playing (a retried payment), keep the rest of the queue in order.
    let i = events.length;
    while (i > 0 && before(event, events[i - 1]!)) i--;
    events.splice(i, 0, event);
  };

  /** Invoices, and the family's plan for paying each month's batch. */
  planInvoices(): void {
    const { world, family, rng } = this;
    const batches = new Map<number, Invoice[]>();
    for (const k of family.students) {
      for (let yearIdx = 0; yearIdx < 2; yearIdx++) this.invoiceYear(k, yearIdx, batches);
    }
    for (const [, batch] of [...batches.entries()].sort((a, b) => a[0] - b[0])) {
      planPayments(world, family, rng, batch, this.push);
    }
  }

  /** One student's monthly invoices for one school year, batched by issue day. */
  private invoiceYear(k: number, yearIdx: number, batches: Map<number, Invoice[]>): void {
    const { world, family } = this;
    const s = world.students[k]!;
    const e = s.enroll[yearIdx];
    if (!e) return;
    const asOf = ymdOf(world.asOf);
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
      const prorate = e.midYearEntry && first && ymdOf(e.entryDay).day > 15 ? 0.5 : 1;
      const tuition = Math.round(monthly * prorate);
      const lines = invoiceLines(world, s, school, { year, month, tuition, first });
      first = false;
      const number = `INV-${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}-${String(s.idx + 1).padStart(6, '0')}`;
      const issuedMs = draft ? null : localMs(school.timezone, issueDay, 6);
      const createdMs = draft
        ? atMost(world, localMs(school.timezone, dayOf(asOf.year, asOf.month, 25), 6))
        : issuedMs!;
      const invoice = newInvoice(this.book, this.ord, {
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
      this.push({ ms: issuedMs!, kind: 0, invoice });
      // About 1 % go out with a wrong line, are voided within days and re-issued.
      if (hashFloat(world.seed, Stream.account, invoice.ordinal) < 0.01) {
        this.issueInError(invoice, tuition);
        continue;
      }
      const batch = batches.get(issueDay) ?? [];
      batch.push(invoice);
      batches.set(issueDay, batch);
    }
  }

  /** An invoice sent with a duplicate tuition line: voided within days and re-issued. */
  private issueInError(invoice: Invoice, tuition: number): void {
    const { world, rng } = this;
    const { number, issueDay } = invoice;
    invoice.lines.push({ description: 'Tuition adjustment', quantity: 1, unit: tuition });
    invoice.total = sumLines(invoice.lines);
    invoice.memo = 'Issued in error: duplicate tuition line';
    this.toVoid.add(invoice);
    const voidMs = invoice.issuedMs! + rng.between(1, 4) * DAY_MS;
    this.push({ ms: voidMs, kind: 3, invoice });
    if (voidMs > world.cutoffMs) return;
    const fixed = newInvoice(this.book, this.ord, {
      number: `${number}-R`,
      studentIdx: invoice.studentIdx,
      schoolIdx: invoice.schoolIdx,
      issueDay: Math.floor(voidMs / DAY_MS),
      dueDay: Math.max(endOfMonth(issueDay), Math.floor(voidMs / DAY_MS)),
      status: 'open',
      lines: invoice.lines.slice(0, -1),
      createdMs: voidMs + 60_000,
      issuedMs: voidMs + 60_000,
    });
    fixed.memo = `Replaces ${number}`;
    this.push({ ms: fixed.issuedMs!, kind: 0, invoice: fixed });
    planPayments(world, this.family, rng, [fixed], this.push);
  }

  /** ESA money arrives as the state disburses it, for that student's invoices. */
  planEsa(): void {
    const { world, family } = this;
    for (const k of family.students) {
      for (let yearIdx = 0; yearIdx < 2; yearIdx++) {
        const app = world.esaByStudentYear.get(k * 2 + yearIdx);
        if (!app) continue;
        const state = world.esaPrograms[app.programIdx]!.state;
        for (const d of app.disbursements) {
          if (d.status !== 'disbursed') continue;
          this.push({
            ms: d.disbursedDay * DAY_MS + 15 * HOUR_MS,
            kind: 1,
            esa: { ordinal: d.ordinal, amount: d.amount, studentIdx: k, state },
          });
        }
      }
    }
  }

  /** Plays the events out in order; a declined card schedules its retry into the queue. */
  play(): void {
    const events = this.events;
    events.sort((a, b) => (before(a, b) ? -1 : 1));
    this.playing = true;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      switch (ev.kind) {
        case 0:
          this.applyCredits(ev);
          break;
        case 1:
          this.receiveEsa(ev);
          break;
        case 2:
          this.receivePayment(ev);
          break;
        case 3:
          this.voidInvoice(ev);
          break;
        case 4:
          this.writeOff(ev);
          break;
      }
    }
  }

  private open(inv: Invoice): boolean {
    return inv.status === 'open' && inv.total - inv.paid > 0 && !this.toVoid.has(inv);
  }

  private allocate(payment: Payment, inv: Invoice, amount: number, ms: number): void {
    this.book.allocations.push({
      ordinal: this.ord.allocation++,
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
  }

  /** A newly issued invoice takes what is left of earlier overpayments and ESA money. */
  private applyCredits(ev: Event): void {
    const inv = ev.invoice!;
    for (const c of this.credits) {
      if (c.left <= 0 || !this.open(inv)) continue;
      if (c.studentIdx >= 0 && c.studentIdx !== inv.studentIdx) continue;
      const amount = Math.min(c.left, inv.total - inv.paid);
      this.allocate(c.payment, inv, amount, ev.ms);
      c.left -= amount;
      c.payment.unapplied = c.left;
      c.payment.updatedMs = ev.ms;
    }
  }

  private receiveEsa(ev: Event): void {
    const esa = ev.esa!;
    const payment = newPayment(this.book, this.ord, this.rng, 'esa', esa.amount, ev.ms);
    payment.disbursement = esa.ordinal;
    payment.reference = `${esa.state}-ESA-${String(esa.ordinal + 1).padStart(7, '0')}`;
    let left = esa.amount;
    for (const inv of this.book.invoices) {
      if (left <= 0) break;
      if (inv.studentIdx !== esa.studentIdx || !this.open(inv) || inv.issuedMs! > ev.ms) continue;
      const amount = Math.min(left, inv.total - inv.paid);
      this.allocate(payment, inv, amount, ev.ms);
      left -= amount;
    }
    payment.unapplied = left;
    if (left > 0) this.credits.push({ payment, studentIdx: esa.studentIdx, left });
  }

  private receivePayment(ev: Event): void {
    const { world, rng, book, ord } = this;
    const due = ev.group!.filter((inv) => this.open(inv));
    const balance = due.reduce((n, inv) => n + inv.total - inv.paid, 0);
    if (balance <= 0) return;
    const method = methodFor(world.seed, this.family, rng);
    let amount = Math.ceil(balance * ev.fraction);
    if (method === 'card' && !ev.retry && rng.chance(0.015)) {
      // Declined card: recorded as failed, retried a few days later.
      newPayment(book, ord, rng, method, amount, ev.ms).status = 'failed';
      this.push({
        ms: ev.ms + rng.between(2, 5) * DAY_MS,
        kind: 2,
        group: ev.group!,
        fraction: ev.fraction,
        retry: true,
      });
      return;
    }
    const overpay = ev.fraction === 1 && method !== 'ach' && rng.chance(0.03);
    if (overpay) amount = Math.ceil((amount + 1) / 50_00) * 50_00;
    const payment = newPayment(book, ord, rng, method, amount, ev.ms);
    let left = amount;
    for (const inv of due) {
      if (left <= 0) break;
      const part = Math.min(left, inv.total - inv.paid);
      this.allocate(payment, inv, part, ev.ms);
      left -= part;
    }
    payment.unapplied = left;
    if (left > 0) this.credits.push({ payment, studentIdx: -1, left });
  }

  private voidInvoice(ev: Event): void {
    const inv = ev.invoice!;
    this.toVoid.delete(inv);
    if (inv.status === 'open' && inv.paid === 0) {
      inv.status = 'void';
      inv.voidedMs = ev.ms;
      inv.updatedMs = ev.ms;
    }
  }

  private writeOff(ev: Event): void {
    const inv = ev.invoice!;
    if (this.open(inv)) {
      inv.status = 'uncollectible';
      inv.updatedMs = ev.ms;
    }
  }
}

/** A month's invoice lines for a student: tuition, first-invoice fee, lunch, care, discount. */
function invoiceLines(
  world: World,
  s: Student,
  school: School,
  m: { year: number; month: number; tuition: number; first: boolean },
): InvoiceLine[] {
  const { year, month, tuition, first } = m;
  const lines: InvoiceLine[] = [];
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
  return lines;
}
