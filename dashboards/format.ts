/** Number and date formatting for the pages: fixed locale, a dash for absent figures. */

/** What a figure shows when it has no value (a ratio over zero, no data). */
export const DASH = '—';

const finite = (n: number | null | undefined): n is number =>
  typeof n === 'number' && Number.isFinite(n);

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dollars = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 0,
});

export const fmt = {
  count: (n: number | null | undefined) => (finite(n) ? integer.format(n) : DASH),
  /** A 0–100 percentage. */
  percent: (p: number | null | undefined) => (finite(p) ? `${p.toFixed(1)}%` : DASH),
  /** A 0–1 fraction as a percentage. */
  rate: (r: number | null | undefined) => (finite(r) ? `${(r * 100).toFixed(1)}%` : DASH),
  /** Whole dollars. */
  dollars: (cents: number | null | undefined) =>
    finite(cents) ? dollars.format(Math.round(cents / 100)) : DASH,
  gpa: (g: number | null | undefined) => (finite(g) ? g.toFixed(2) : DASH),
  days: (d: number | null | undefined) => (finite(d) ? `${d.toFixed(1)} d` : DASH),
};

export type ValueKind = 'count' | 'percent' | 'rate' | 'dollars' | 'gpa';

export const formatKind = (kind: ValueKind, v: number | null | undefined): string =>
  kind === 'dollars' ? fmt.dollars(v) : fmt[kind](v);

/** `2026-02-01T06:00:00.000Z` → `2026-02-01 06:00 UTC`. */
export const utcStamp = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/** `2026-02` → `Feb 2026`; `2026-02-03` → `Feb 3`. */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const monthLabel = (month: string): string =>
  `${MONTHS[Number(month.slice(5, 7)) - 1] ?? month} ${month.slice(0, 4)}`;
export const dayLabel = (date: string): string =>
  `${MONTHS[Number(date.slice(5, 7)) - 1] ?? date} ${Number(date.slice(8, 10))}`;

/** snake_case keys as words: `under_review` → `Under review`, `1_30` → `1–30 days`. */
export const words = (key: string): string => {
  if (/^\d+_\d+$/.test(key)) return `${key.replace('_', '–')} days`;
  if (/^\d+_plus$/.test(key)) return `${key.replace('_plus', '+')} days`;
  const s = key.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
};
