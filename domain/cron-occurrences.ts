import { DateTime } from 'luxon';
import { cronFieldValues } from './backup-batch';

/**
 * The times a classic 5-field cron names in a zone, computed here rather than asked of the server (a Schedule's
 * describe gives its next 10 actions only: an hourly cron's 10 never reach Saturday's weekly window). Pure (luxon).
 */

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
export const DAY_MS = 86_400_000;

/**
 * How far ahead every pattern of a cron shows at least once: 5 weeks for one that names no day of month and no month
 * (every weekday seen 5 times), a year (and a day) otherwise (a monthly or yearly cron).
 */
export function cronHorizonDays(cron: string): number {
  const [, , dom, month] = cron.trim().split(/\s+/);
  return dom === '*' && month === '*' ? 35 : 366;
}

/**
 * The cron's times in [fromMs, untilMs), in order, at most `max` (undefined for a cron cronProblem refuses). Day of
 * month and day of week both restricted: either matches (as cron and the server read them). A local time that does not
 * exist (the night clocks go forward) is skipped, as Temporal's calendar skips it.
 */
export function cronTimes(cron: string, zone: string, fromMs: number, untilMs: number, max = 20_000): Date[] | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const [mi, ho, dom, mo, dw] = fields as [string, string, string, string, string];
  const minutes = cronFieldValues(mi, 0, 59);
  const hours = cronFieldValues(ho, 0, 23);
  const days = cronFieldValues(dom, 1, 31);
  const months = cronFieldValues(mo, 1, 12, MONTHS);
  const weekdays = cronFieldValues(dw, 0, 7, DAYS)?.map((d) => d % 7);
  if (!minutes || !hours || !days || !months || !weekdays) return undefined;
  const either = dom !== '*' && dw !== '*';
  const out: Date[] = [];
  let day = DateTime.fromMillis(fromMs, { zone }).startOf('day');
  for (; day.toMillis() < untilMs && out.length < max; day = day.plus({ days: 1 })) {
    if (!months.includes(day.month)) continue;
    const byDom = days.includes(day.day);
    const byDow = weekdays.includes(day.weekday % 7);
    if (!(either ? byDom || byDow : byDom && byDow)) continue;
    for (const h of hours) {
      for (const m of minutes) {
        const t = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour: h, minute: m }, { zone });
        // a time in the skipped hour is moved forward by luxon: not the cron's time, skipped
        if (t.hour !== h || t.minute !== m) continue;
        const ms = t.toMillis();
        if (ms >= fromMs && ms < untilMs) out.push(new Date(ms));
        if (out.length >= max) return out;
      }
    }
  }
  return out;
}
