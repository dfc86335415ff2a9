/**
 * Dates as integer day numbers (days since 1970-01-01, UTC) and timestamps as epoch
 * milliseconds, formatted for COPY without going through `Date` on the hot path.
 */

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** Day number of a calendar date. */
export function dayOf(year: number, month: number, day: number): number {
  return Date.UTC(year, month - 1, day) / DAY_MS;
}

/** Parses `YYYY-MM-DD` strictly; null when it is not a real date. */
export function parseIsoDay(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = dayOf(y, mo, d);
  const back = new Date(day * DAY_MS);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() + 1 !== mo || back.getUTCDate() !== d) {
    return null;
  }
  return day;
}

/** Today's UTC date as a day number. */
export function todayUtc(now: Date = new Date()): number {
  return Math.floor(now.getTime() / DAY_MS);
}

export interface Ymd {
  year: number;
  month: number;
  day: number;
}

export function ymdOf(day: number): Ymd {
  const d = new Date(day * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

export function isWeekend(day: number): boolean {
  const w = weekday(day);
  return w === 0 || w === 6;
}

/** Last day of the month containing `day`. */
export function endOfMonth(day: number): number {
  const { year, month } = ymdOf(day);
  return dayOf(year, month + 1, 1) - 1;
}

/** The n-th (1-based) given weekday of a month; n = -1 for the last one. */
export function nthWeekday(year: number, month: number, dow: number, n: number): number {
  if (n > 0) {
    const first = dayOf(year, month, 1);
    return first + ((dow - weekday(first) + 7) % 7) + (n - 1) * 7;
  }
  const last = dayOf(year, month + 1, 1) - 1;
  return last - ((weekday(last) - dow + 7) % 7);
}

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * Formats day numbers and timestamps. Date strings are cached: the same few hundred dates
 * are formatted millions of times (attendance, scores).
 */
export class DateFormat {
  private readonly cache = new Map<number, string>();

  /** `YYYY-MM-DD`. */
  date(day: number): string {
    let s = this.cache.get(day);
    if (s === undefined) {
      s = new Date(day * DAY_MS).toISOString().slice(0, 10);
      this.cache.set(day, s);
    }
    return s;
  }

  /** `YYYY-MM-DD HH:MM:SS+00`, which PostgreSQL reads as a UTC timestamptz. */
  timestamp(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    let rest = Math.floor((ms - day * DAY_MS) / 1000);
    const h = Math.floor(rest / 3600);
    rest -= h * 3600;
    const m = Math.floor(rest / 60);
    const s = rest - m * 60;
    return `${this.date(day)} ${PAD2[h]}:${PAD2[m]}:${PAD2[s]}+00`;
  }
}

/**
 * UTC offset in hours of a US school timezone on a date. The handful of zones the seed uses
 * are hard-coded with the US DST rule (second Sunday of March to first Sunday of November),
 * so the result never depends on the host's ICU data.
 */
export function utcOffsetHours(timezone: string, day: number): number {
  const standard = STANDARD_OFFSETS[timezone];
  if (standard === undefined) throw new Error(`unknown seed timezone ${timezone}`);
  if (timezone === 'America/Phoenix') return standard;
  const { year } = ymdOf(day);
  const dstStart = nthWeekday(year, 3, 0, 2);
  const dstEnd = nthWeekday(year, 11, 0, 1);
  return day >= dstStart && day < dstEnd ? standard + 1 : standard;
}

const STANDARD_OFFSETS: Record<string, number> = {
  'America/New_York': -5,
  'America/Chicago': -6,
  'America/Denver': -7,
  'America/Phoenix': -7,
};

/** Epoch ms of a local wall-clock time (hours may be fractional) at a school. */
export function localMs(timezone: string, day: number, hours: number): number {
  return day * DAY_MS + Math.round((hours - utcOffsetHours(timezone, day)) * HOUR_MS);
}
