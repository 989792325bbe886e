import { DateTime } from 'luxon';
import { cronFieldValues } from './backup-batch';

/**
 * Cron times that a daylight-saving change makes Temporal's Schedules skip or run twice. Temporal's calendar
 * (v1.31) skips a local time that does not exist (the night clocks go forward: no run at all that night, not a run
 * an hour later as cron does), and on the night clocks go back it fires a time of the repeated hour, or of the hour
 * before it, twice (which one depends on the zone's side of UTC). Found by drill T (2026-12-04) on the dev server.
 * Nightshift cannot change the server's calendar: the CLI says it when a Schedule is set, naming the night and the
 * hours to avoid. Pure (luxon only).
 */

export interface DstHazard {
  kind: 'skipped' | 'twice';
  /** the local date of that night, YYYY-MM-DD */
  date: string;
  /** the cron's time that night, HH:MM */
  time: string;
  /** the local hours to avoid that night, `02:00–02:59` */
  avoid: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const offsetAt = (ms: number, zone: string): number => DateTime.fromMillis(ms, { zone }).offset;

/** The zone's offset changes in [fromMs, fromMs + days): the first instant of the new offset, offsets before and after (minutes). */
export function offsetChanges(zone: string, fromMs: number, days: number): { atMs: number; before: number; after: number }[] {
  const found: { atMs: number; before: number; after: number }[] = [];
  for (let day = fromMs - (fromMs % HOUR); day < fromMs + days * DAY; day += DAY) {
    if (offsetAt(day, zone) === offsetAt(day + DAY, zone)) continue;
    for (let h = day; h < day + DAY; h += HOUR) {
      const before = offsetAt(h, zone);
      const after = offsetAt(h + HOUR, zone);
      if (before === after) continue;
      let lo = h; // offset `before` at lo, `after` at hi
      let hi = h + HOUR;
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
        if (offsetAt(mid, zone) === before) lo = mid;
        else hi = mid;
      }
      if (hi >= fromMs) found.push({ atMs: hi, before, after });
    }
  }
  return found;
}

/** Whether a 5-field cron names this wall time (minute, hour, day of month or day of week as cron reads them, month). */
function cronNames(cron: string, wall: DateTime): boolean {
  const [minute, hour, dom, month, dow] = cron.trim().split(/\s+/) as [string, string, string, string, string];
  // day of week 7 is Sunday, as 0
  const has = (field: string, min: number, max: number, v: number, names?: string[]) =>
    (cronFieldValues(field, min, max, names) ?? []).some((x) => (max === 7 ? x % 7 : x) === v);
  if (!has(minute, 0, 59, wall.minute) || !has(hour, 0, 23, wall.hour) || !has(month, 1, 12, wall.month, MONTHS)) return false;
  const byDom = has(dom, 1, 31, wall.day);
  const byDow = has(dow, 0, 7, wall.weekday % 7, DAYS);
  // cron: with both restricted, either day runs
  if (dom === '*' || dow === '*') return byDom && byDow;
  return byDom || byDow;
}

/** The date of an instant in `zone`, YYYY-MM-DD (what DstHazard.date is compared with). */
export const localDate = (instant: Date, zone: string): string => DateTime.fromJSDate(instant, { zone }).toFormat('yyyy-MM-dd');

const hhmm = (minutes: number): string => `${String(Math.floor(minutes / 60) % 24).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/**
 * The nights in [fromMs, fromMs + days) when `crons` (in `zone`) meet a daylight-saving change: a time that does
 * not exist (skipped), or a time the server may fire twice: the repeated hour and the hour before it. In date order.
 */
export function dstHazards(crons: string[], zone: string, fromMs: number, days = 400): DstHazard[] {
  const hazards: DstHazard[] = [];
  // a cron of every hour (hour `*`: every minute, every quarter…) runs again within the hour that night: nothing to
  // say (drill T: `* * * * *` got two warnings about 02:00)
  crons = crons.filter((c) => c.trim().split(/\s+/)[1] !== '*');
  if (!crons.length) return hazards;
  for (const change of offsetChanges(zone, fromMs, days)) {
    const shift = Math.abs(change.after - change.before);
    const kind = change.after > change.before ? 'skipped' : 'twice';
    // wall clock (as UTC fields) where the hazard starts: the first skipped minute, or `shift` before the repeated ones
    const wallStart = kind === 'skipped' ? change.atMs + change.before * MINUTE : change.atMs + change.after * MINUTE - shift * MINUTE;
    const length = kind === 'skipped' ? shift : 2 * shift;
    const start = DateTime.fromMillis(wallStart, { zone: 'UTC' });
    const avoid = `${hhmm(start.hour * 60 + start.minute)}–${hhmm(start.hour * 60 + start.minute + length - 1)}`;
    for (let k = 0; k < length; k++) {
      const wall = start.plus({ minutes: k });
      if (crons.some((c) => cronNames(c, wall))) {
        hazards.push({ kind, date: wall.toFormat('yyyy-MM-dd'), time: wall.toFormat('HH:mm'), avoid });
        break;
      }
    }
  }
  return hazards;
}

/** What the CLI prints for a hazard: `what` runs at the cron's time (the backup batch, the window's announcement …). */
export function dstHazardText(h: DstHazard, zone: string, what: string): string {
  return h.kind === 'skipped'
    ? `${h.time} does not exist in ${zone} on ${h.date} (clocks go forward): Temporal's Schedule skips ${what} that night instead of running it an hour later; a time outside ${h.avoid} runs every night`
    : `on ${h.date} clocks go back in ${zone}: Temporal's Schedule may start ${what} of ${h.time} twice that night, an hour apart; a time outside ${h.avoid} runs once`;
}
