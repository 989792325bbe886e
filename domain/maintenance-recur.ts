import { z } from 'zod';
import { cronFieldValues as fieldValues, cronProblem } from './backup-batch';
import { durationSchema } from './maintenance-input';
import { canonicalTimeZone } from './operator-time';
import type { MaintenanceWindowInput } from '../workflows/maintenance-window.api';

/**
 * Recurring maintenance windows (R-MW-13): a Temporal Schedule starts one window per occurrence. The
 * operator's cron says when each WINDOW starts; the Schedule fires `announceAhead` earlier, so that the
 * window is announced (R-MW-4) for that long, as a one-off window is between `schedule` and its start.
 * Pure: the CLI checks the flags here before anything is created; the workflow moves the template's
 * times to its occurrence here.
 */

/** kebab-case, as it appears in the Schedule id `maintenance-recur/{target}/{name}` */
export const RECUR_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
export const recurNameSchema = z.string().regex(RECUR_NAME, 'a recurring window\'s name has lower-case letters, digits and "-" (40 at most), e.g. weekly');

export const maintenanceRecurScheduleId = (target: string, name: string): string => `maintenance-recur/${target}/${name}`;
export const MAINTENANCE_RECUR_PREFIX = 'maintenance-recur/';
/** The Schedule's occurrences: the server appends the scheduled time, `maintenance/{target}/{name}-2026-12-05T20:00:00Z`. */
export const recurringWindowWorkflowId = (target: string, name: string): string => `maintenance/${target}/${name}`;

/** `maintenance-recur/{target}/{name}` back into its parts (undefined for any other Schedule). */
export function parseRecurScheduleId(id: string): { target: string; name: string } | undefined {
  const m = /^maintenance-recur\/([a-z][a-z0-9_-]{0,39})\/([a-z0-9][a-z0-9-]{0,39})$/.exec(id);
  return m ? { target: m[1]!, name: m[2]! } : undefined;
}

/**
 * The template's times: only their differences count (the workflow moves them to its occurrence, see
 * occurrenceInput). A fixed instant, so that the Schedule's stored action never changes by itself.
 */
export const RECUR_TEMPLATE_START = '2000-01-01T00:00:00.000Z';

const MAX_AHEAD_SECONDS = 7 * 86_400;
const MAX_WINDOW_SECONDS = 7 * 86_400;
/** `--announce-ahead` when the operator gives none: each window is announced an hour before its start (R-MW-4) */
export const DEFAULT_ANNOUNCE_AHEAD = '1h';
/** hour x minute pairs a cron may name when it is announced ahead (each becomes a cron of its own) */
const MAX_START_TIMES = 24;

/**
 * An IANA time zone name (Area/Location, or UTC), in its canonical spelling. Abbreviations and offsets
 * (CET, PST, CEST, +02:00) are refused: some are not IANA names at all, and an abbreviation does not say
 * which daylight-saving rules the occurrences follow.
 */
export function ianaTimeZone(zone: string): string | undefined {
  const z = zone.trim();
  if (/^(utc|etc\/utc)$/i.test(z)) return 'UTC';
  if (!/^[A-Za-z]+(?:_[A-Za-z]+)*(?:\/[A-Za-z0-9_+-]+){1,2}$/.test(z)) return undefined;
  return canonicalTimeZone(z);
}

export const ianaTimeZoneSchema = z
  .string()
  .max(64, 'expected an IANA time zone such as Europe/Paris')
  .transform((v, ctx) => {
    const zone = ianaTimeZone(v);
    if (!zone) {
      ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 64)}" is not an IANA time zone: use an Area/City name such as Europe/Paris (not an abbreviation or an offset)` });
      return z.NEVER;
    }
    return zone;
  });

export const recurCronSchema = z
  .string()
  .max(200, 'expected 5 fields: minute hour day-of-month month day-of-week (e.g. "0 22 * * 6")')
  .transform((v, ctx) => {
    const problem = cronProblem(v);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return v.trim().split(/\s+/).join(' ');
  });

/** The Schedule's own flags (the window's payload, type, grace … are a one-off window's, see the CLI). */
export const recurScheduleSchema = z
  .object({
    name: recurNameSchema,
    cron: recurCronSchema,
    timezone: ianaTimeZoneSchema,
    durationSeconds: durationSchema.pipe(z.number().positive('the duration must be positive').max(MAX_WINDOW_SECONDS, 'a window lasts at most 7 days')),
    announceAheadSeconds: durationSchema.pipe(
      z.number().max(MAX_AHEAD_SECONDS, 'announce at most 7 days ahead').refine((s) => s % 60 === 0, 'announce a whole number of minutes ahead (the cron counts minutes)'),
    ),
  })
  .strict();
export type RecurSchedule = z.output<typeof recurScheduleSchema>;
export const RECUR_FLAG_NAMES = { name: '--name', cron: '--cron', timezone: '--timezone', durationSeconds: '--duration', announceAheadSeconds: '--announce-ahead' };

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * The Schedule's cron expressions: the operator's (when each window starts) moved `aheadSeconds`
 * earlier. One expression per start time, since moving back can cross midnight for some and not
 * for others; crossing midnight moves the day of week and is refused when the day of month or the
 * month is fixed (cron cannot say "the day before the 1st"). A problem names the flag to change; `announceGiven`
 * false: the announcement is the default one, which the operator did not type, so the problem says where it comes from.
 */
export function announcementCrons(cron: string, aheadSeconds: number, o: { announceGiven?: boolean } = {}): { crons: string[] } | { problem: string } {
  const [minute, hour, dom, month, dow] = cron.trim().split(/\s+/) as [string, string, string, string, string];
  if (aheadSeconds === 0) return { crons: [cron.trim().split(/\s+/).join(' ')] };
  const fixed = /^\d{1,2}(,\d{1,2})*$/;
  const given = o.announceGiven !== false;
  const ahead = given ? `--announce-ahead ${formatSeconds(aheadSeconds)}` : `the default --announce-ahead ${DEFAULT_ANNOUNCE_AHEAD}`;
  // the cron is moved back by the announcement, which only plain values allow; no announcement (0m) takes any cron
  const orNone = '; --announce-ahead 0m announces nothing ahead and takes any cron';
  if (!fixed.test(minute) || !fixed.test(hour)) {
    return {
      problem: `--cron: the minute and the hour must be plain values (e.g. "0 22 * * 6" or "30 1,13 * * *") when each window is announced ahead (${ahead}: the Schedule fires that much earlier)${orNone}`,
    };
  }
  const minutes = fieldValues(minute, 0, 59)!;
  const hours = fieldValues(hour, 0, 23)!;
  if (minutes.length * hours.length > MAX_START_TIMES) {
    return { problem: `--cron: at most ${MAX_START_TIMES} start times a day when each window is announced ahead (${ahead})${orNone}` };
  }
  const days = dow === '*' ? undefined : fieldValues(dow, 0, 7, DAY_NAMES)?.map((d) => d % 7);
  const aheadMinutes = aheadSeconds / 60;
  const crons: string[] = [];
  for (const h of hours) {
    for (const m of minutes) {
      const fire = h * 60 + m - aheadMinutes;
      const daysBack = -Math.floor(fire / 1440);
      const at = fire + daysBack * 1440;
      if (daysBack > 0 && (dom !== '*' || month !== '*')) {
        return {
          problem: `--announce-ahead: announcing ${formatSeconds(aheadSeconds)} ahead${given ? '' : ` (the default, ${DEFAULT_ANNOUNCE_AHEAD})`} of ${pad(h)}:${pad(m)} crosses midnight, and a cron with a fixed day of month or month cannot say "the day before": shorten --announce-ahead or start later in the day`,
        };
      }
      const shiftedDays = days === undefined ? '*' : [...new Set(days.map((d) => (((d - daysBack) % 7) + 7) % 7))].sort((a, b) => a - b).join(',');
      crons.push(`${at % 60} ${Math.floor(at / 60)} ${dom} ${month} ${daysBack > 0 ? shiftedDays : dow}`);
    }
  }
  return { crons: [...new Set(crons)] };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** 3600 → 1h, 5400 → 1h30m, 0 → 0m: as the flags are written. */
export function formatSeconds(s: number): string {
  if (s === 0) return '0m';
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${d ? `${d}d` : ''}${h ? `${h}h` : ''}${m ? `${m}m` : ''}${sec ? `${sec}s` : ''}`;
}

/**
 * R-MW-13: occurrences never overlap. A window's workflow runs from its announcement to its end, so an
 * occurrence announced before the previous window ends would be skipped by the Schedule (overlap SKIP):
 * refused at creation from the next announcement times (`first`: the earlier of the two too close). Undefined when
 * they are far enough apart.
 */
export function occurrencesProblem(announcements: Date[], aheadSeconds: number, durationSeconds: number): { problem: string; first: Date } | undefined {
  const busyMs = (aheadSeconds + durationSeconds) * 1000;
  for (let i = 1; i < announcements.length; i++) {
    const gap = announcements[i]!.getTime() - announcements[i - 1]!.getTime();
    if (gap < busyMs) {
      return {
        problem: `occurrences would overlap: each window is announced ${formatSeconds(aheadSeconds)} ahead and lasts ${formatSeconds(durationSeconds)}, but two of them are announced ${formatSeconds(Math.round(gap / 1000))} apart; a shorter --duration or --announce-ahead, or a sparser --cron`,
        first: announcements[i - 1]!,
      };
    }
  }
  return undefined;
}

/**
 * The window of one occurrence: the template's times moved so that it starts `announceAheadSeconds`
 * after `firedAt` (the Schedule's scheduled time), keeping its duration and its early login block.
 */
export function occurrenceInput(template: MaintenanceWindowInput, firedAtMs: number, o: { wallClock?: boolean } = {}): MaintenanceWindowInput {
  if (!template.recurrence) return template;
  const ahead = template.recurrence.announceAheadSeconds;
  const start = o.wallClock ? occurrenceStartMs(firedAtMs, ahead, template.displayTimeZone ?? 'UTC') : firedAtMs + ahead * 1000;
  const shift = start - Date.parse(template.startsAt);
  const move = (iso: string) => new Date(Date.parse(iso) + shift).toISOString();
  const input: MaintenanceWindowInput = { ...template, startsAt: move(template.startsAt), endsAt: move(template.endsAt) };
  if (template.preventLoginsFrom) input.preventLoginsFrom = move(template.preventLoginsFrom);
  return input;
}

/** The zone's offset from UTC at `ms`, in minutes (Intl: this module is in the workflow bundle, without luxon). */
function offsetMinutes(ms: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((wall - (ms - (((ms % 1000) + 1000) % 1000))) / 60_000);
}

/**
 * When an occurrence's window starts: its announcement (the Schedule's fire time) plus announce-ahead on the wall clock
 * of the recurrence's zone, so that a night the clocks change the window still starts at the cron's time (drill W: the
 * 03:30 window of 28 March 2027 started at 04:30, its 01:30 announcement + 2 h crossing the skipped hour).
 */
export function occurrenceStartMs(firedAtMs: number, announceAheadSeconds: number, zone: string): number {
  const start = firedAtMs + announceAheadSeconds * 1000;
  return start + (offsetMinutes(firedAtMs, zone) - offsetMinutes(start, zone)) * 60_000;
}

/** What the Schedule does, for its memo and the CLI (R-OP-1: the same words in the Web UI). */
export function recurDescription(r: { target: string; name: string; cron: string; timezone: string; durationSeconds: number; announceAheadSeconds: number; template: MaintenanceWindowInput }): string {
  const reason = r.template.message ? `: ${r.template.message.split('\n')[0]!.slice(0, 80)}` : '';
  return (
    `Recurring ${r.template.type} maintenance window ${r.name} on target ${r.target}: starts at "${r.cron}" (${r.timezone}), ` +
    `lasts ${formatSeconds(r.durationSeconds)}, announced ${formatSeconds(r.announceAheadSeconds)} ahead, payload ${r.template.payload.kind}` +
    `${r.template.onFailure ? ` (on failure: ${r.template.onFailure})` : ''}` +
    `${r.template.cutoffSeconds !== undefined ? `, cutoff ${formatSeconds(r.template.cutoffSeconds)}` : ''}; ` +
    `an occurrence is refused while another window of the target is scheduled or open (recur show says why)${reason}`
  );
}
