import { DateTime } from 'luxon';
import { hasControlChars, shownInput } from './text';

/**
 * Times as an operator types them on the command line (maintenance windows), parsed with luxon: an
 * ISO 8601 calendar date-time, with or without seconds and fractions, read in the operator's time zone
 * unless it carries Z or an offset. Fields that do not exist (second 75, hour 24, 30 February, an hour
 * skipped by summer time) are refused, never rolled over. Kept out of maintenance-input.ts: the
 * workflow bundle imports that one, and has no use for luxon.
 */

export const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const MAX_LENGTH = 40;

export const TIME_FORMATS_HINT = 'an ISO 8601 date-time such as 2026-03-01T13:00, 2026-03-01 13:00:30 or 2026-03-01T13:00:00.5+01:00';

/** The canonical IANA name of a zone ('europe/paris' → 'Europe/Paris'), undefined when it is not one. */
export function canonicalTimeZone(zone: string): string | undefined {
  const z = zone.trim();
  if (!z || z.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(z)) return undefined;
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: z }).resolvedOptions().timeZone;
    if (!name || name === 'Etc/Unknown') return undefined;
    // the canonical spelling of the same name; an alias (America/Montreal) stays as the operator wrote it
    return name.toLowerCase() === z.toLowerCase() ? name : z;
  } catch {
    return undefined;
  }
}

export type OperatorTime = { instant: Date; problem?: undefined } | { instant?: undefined; problem: string };

/** An operator's date-time, read in `zone` when it has no offset of its own. */
export function parseOperatorTime(text: string, zone: string): OperatorTime {
  const refuse = (why: string): OperatorTime => ({ problem: `"${shownInput(text, MAX_LENGTH)}" is not a date-time: ${why}` });
  if (hasControlChars(text)) return refuse('it holds control characters');
  const v = text.trim();
  if (v.length > MAX_LENGTH) return refuse(`expected ${TIME_FORMATS_HINT}`);
  const m = ISO_DATE_TIME.exec(v);
  if (!m) return refuse(`expected ${TIME_FORMATS_HINT}`);
  const [, year, month, day, hour, minute, , , offset] = m;
  // ISO 8601 allows 24:00 for the end of a day; luxon reads it as the next midnight: an operator means a typo
  if (Number(hour) > 23) return refuse(`hour ${hour} does not exist (00-23; write 00:00 of the next day)`);
  if (offset && offset.length > 1) {
    const [oh, om = '00'] = offset.slice(1).split(/:?(?=\d{2}$)/);
    if (Number(oh) > 14 || Number(om) > 59) return refuse(`offset ${offset} is not a UTC offset (-12:00 to +14:00)`);
  }
  const iso = v.replace(/^(\S+) /, '$1T').replace(',', '.');
  const dt = DateTime.fromISO(iso, { zone, setZone: true });
  if (!dt.isValid) {
    const field = /as an? (\w+), which is invalid/.exec(dt.invalidExplanation ?? '');
    const value = /you specified (\S+)/.exec(dt.invalidExplanation ?? '');
    if (!field || !value) return refuse(dt.invalidExplanation ?? dt.invalidReason ?? 'invalid');
    return refuse(`${field[1]} ${value[1]} does not exist${field[1] === 'day' ? ` in ${year}-${month}` : ''}`);
  }
  // without an offset, a local time that summer time skips is moved by luxon: say so instead
  if (!offset && (dt.hour !== Number(hour) || dt.minute !== Number(minute))) {
    return refuse(`${hour}:${minute} does not exist in ${zone} that day (the clocks move forward)`);
  }
  // a whole day a zone skipped (Pacific/Apia, 2011-12-30): luxon moves it to the next one
  if (!offset && dt.day !== Number(day)) return refuse(`${year}-${month}-${day} does not exist in ${zone} (the zone skipped that day)`);
  // a local time the clocks go through twice (they move back) is two instants: which one is the operator's to say
  if (!offset) {
    const twice = sameWallTimeOtherOffset(dt);
    if (twice) {
      const [first, second] = [dt, twice].sort((a, b) => a.toMillis() - b.toMillis()) as [DateTime, DateTime];
      return refuse(
        `${hour}:${minute} occurs twice in ${zone} that day (the clocks move back): add the offset, ${first.toFormat('ZZ')} for the first or ${second.toFormat('ZZ')} for the second`,
      );
    }
  }
  return { instant: dt.toJSDate() };
}

/** The other instant with the same local time (to the minute) on a night the clocks move back, if `dt`'s has one. */
function sameWallTimeOtherOffset(dt: DateTime): DateTime | undefined {
  return [30, 60, 120]
    .flatMap((d) => [dt.offset - d, dt.offset + d])
    .map((o) => dt.toMillis() + (dt.offset - o) * 60_000)
    .map((ms) => DateTime.fromMillis(ms, { zone: dt.zone }))
    .find((other) => other.hour === dt.hour && other.minute === dt.minute && other.offset !== dt.offset);
}

/**
 * `at` as the operator reads it in `zone` (luxon `format`), with its UTC offset (`+02:00`) when that local time
 * occurs twice (the night clocks move back): the text then names one instant, and `--at` / `--start` take it back.
 */
export function operatorTimeText(at: Date, zone: string, format: string): string {
  const dt = DateTime.fromJSDate(at, { zone });
  return sameWallTimeOtherOffset(dt) ? `${dt.toFormat(format)}${dt.toFormat('ZZ')}` : dt.toFormat(format);
}
