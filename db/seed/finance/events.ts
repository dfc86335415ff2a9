import { DAY_MS, HOUR_MS, localMs } from '../dates.js';
import type { Rng } from '../random.js';
import type { Family, World } from '../world/model.js';
import type { Invoice, PaymentMethod } from './records.js';

/**
 * The account simulation's event queue: what can happen to an account (an invoice issued,
 * ESA money arriving, a payment, a void, a write-off), in which order simultaneous events
 * apply, and when each payer profile pays a month's invoices.
 */

export type EventKind = 0 | 1 | 2 | 3 | 4; // issue, esa, pay, void, write-off (tie order)

export interface EventInit {
  ms: number;
  kind: EventKind;
  invoice?: Invoice;
  group?: Invoice[];
  fraction?: number;
  retry?: boolean;
  esa?: { ordinal: number; amount: number; studentIdx: number; state: string };
}

export interface Event {
  ms: number;
  kind: EventKind;
  seq: number;
  invoice: Invoice | null;
  group: Invoice[] | null;
  fraction: number;
  retry: boolean;
  esa: { ordinal: number; amount: number; studentIdx: number; state: string } | null;
}

/** Event order: time, then issue < ESA < payment < void < write-off, then creation order. */
export function before(a: Event, b: Event): boolean {
  return a.ms !== b.ms ? a.ms < b.ms : a.kind !== b.kind ? a.kind < b.kind : a.seq < b.seq;
}

/** When (and how much of) a month's invoices the family pays, by its payer profile. */
export function planPayments(
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
