/**
 * Calendar dates (`YYYY-MM-DD`) in a time zone, for code on every runtime (workerd too):
 * "today" for a school is its own zone's date, not the server's.
 */

/** Today's date (YYYY-MM-DD) in a time zone; UTC when the zone is unknown. */
export function todayIn(timeZone: string | null | undefined, now = new Date()): string {
  try {
    return new Intl.DateTimeFormat('en-CA', {
      timeZone: timeZone ?? 'UTC',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(now);
  } catch {
    return now.toISOString().slice(0, 10);
  }
}

/** Whether the runtime knows this IANA time zone (`Europe/Paris`, `UTC`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
