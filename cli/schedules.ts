import type { Client, ScheduleDescription, ScheduleOptionsStartWorkflowAction, Workflow } from '@temporalio/client';
import { UsageError } from '../config/config';
import { cronProblem } from '../domain/backup-batch';
import { canonicalTimeZone } from '../domain/operator-time';
import { ianaTimeZone } from '../domain/maintenance-recur';
import { dstHazardText, dstHazards } from '../domain/schedule-dst';
import { shownInput } from '../domain/text';
import { temporalClientLibrary } from '../workers/resources';
import { output } from './context';

/** The CLI's Schedule helpers (backup, verification, recurring windows): one answer for a Schedule that is not there. */

/** Whether `err` is the client's ScheduleNotFoundError (the client loaded when asked: temporalClientLibrary). */
function scheduleNotFound(err: unknown): boolean {
  return err instanceof temporalClientLibrary().ScheduleNotFoundError;
}

/** Whether the Schedule exists (not found: false; any other failure is thrown). */
export function scheduleExists(client: Client, scheduleId: string): Promise<boolean> {
  return client.schedule
    .getHandle(scheduleId)
    .describe()
    .then(
      () => true,
      (err: unknown) => (scheduleNotFound(err) ? false : Promise.reject(err)),
    );
}

/** `fn` over a Schedule that should exist; a missing one is a UsageError saying `missing` (what makes one). */
export async function onExistingSchedule<V>(missing: string, fn: () => Promise<V>): Promise<V> {
  try {
    return await fn();
  } catch (err) {
    if (scheduleNotFound(err)) throw new UsageError(missing);
    throw err;
  }
}

/**
 * A `schedule show`: `describe` over the Schedule, or, when there is none, that answer (exit 0: "no schedule" is what the
 * operator asked about, not a mistake in the command) with the command that makes one. `--json` says `exists` either way.
 */
export async function showSchedule<V extends object>(
  o: { scheduleId: string; create: string; json?: boolean },
  describe: () => Promise<V>,
  text: (v: V) => string,
): Promise<void> {
  let view: V;
  try {
    view = await describe();
  } catch (err) {
    if (!scheduleNotFound(err)) throw err;
    return output(o.json, { scheduleId: o.scheduleId, exists: false as const, create: o.create }, (v) => `no schedule ${v.scheduleId}: create it with '${v.create}'`);
  }
  output(o.json, { exists: true as const, ...view }, () => text(view));
}

/**
 * `--cron` and `--timezone` (default: `defaultZone`) checked: the expression trimmed, the zone's canonical name, whether
 * it was given. A command whose `--cron` may be left out (a change that keeps the schedule's) passes it undefined.
 */
export function cronFlags<C extends string | undefined>(flags: { cron: C; timezone?: string }, defaultZone: string): { cron: C; timezone: string; zoneGiven: boolean } {
  const problem = flags.cron === undefined ? undefined : cronProblem(flags.cron);
  if (problem) throw new UsageError(`--cron: ${problem}`);
  // as `maintenance recur`: an Area/City name (an abbreviation such as CET does not say which daylight-saving rules apply)
  const timezone = flags.timezone !== undefined ? ianaTimeZone(flags.timezone) : canonicalTimeZone(defaultZone);
  if (!timezone) {
    throw new UsageError(`--timezone: "${shownInput(flags.timezone ?? '')}" is not an IANA time zone: use an Area/City name such as Europe/Paris (not an abbreviation or an offset)`);
  }
  return { cron: flags.cron?.trim() as C, timezone, zoneGiven: flags.timezone !== undefined };
}

/** A command's warnings, one line each (`warnings` in --json). */
export const warningLines = (warnings: string[]): string[] => warnings.map((w) => `warning: ${w}`);

/** What a `set` on a paused Schedule says: a new time is no resumption (`unpause`: the command that resumes it). */
export const stillPausedLine = (note: string | undefined, unpause: string): string =>
  `the schedule stays paused${note ? ` (${note})` : ''}: it starts no run until '${unpause}'`;

/**
 * Creates the Schedule (overlapping runs skipped, an hour of catch-up) or changes its spec; an update renews the
 * action too, so that a schedule made before its summary existed gets it. An update without --timezone keeps the
 * schedule's own zone (set once, it stays: the default zone of the host running the command is not a choice).
 * Returns whether it was created, the zone it now has, whether it is paused (an update keeps its state, and its
 * pause note), and the nights of the coming year a daylight-saving change makes the server skip or double the cron's
 * time (`what` names the run in those warnings).
 */
export async function setSchedule<W extends Workflow>(
  client: Client,
  o: {
    scheduleId: string;
    cron: string;
    timezone: string;
    zoneGiven: boolean;
    /** the action to start, from the schedule's current one when it exists (what the command did not change is kept) */
    action: (prev?: ScheduleDescription['action']) => ScheduleOptionsStartWorkflowAction<W>;
    description: string;
    what: string;
  },
): Promise<{ created: boolean; timezone: string; paused: boolean; note?: string; warnings: string[] }> {
  const exists = await scheduleExists(client, o.scheduleId);
  let timezone = o.timezone;
  let state: { paused: boolean; note?: string } = { paused: false };
  if (exists) {
    await client.schedule.getHandle(o.scheduleId).update((prev) => {
      timezone = o.zoneGiven ? o.timezone : (prev.spec.timezone ?? o.timezone);
      state = { paused: prev.state.paused, ...(prev.state.note && { note: prev.state.note }) };
      return { ...prev, spec: { cronExpressions: [o.cron], timezone }, action: o.action(prev.action) };
    });
  } else {
    await client.schedule.create({
      scheduleId: o.scheduleId,
      spec: { cronExpressions: [o.cron], timezone },
      action: o.action(),
      policies: { overlap: 'SKIP', catchupWindow: '1 hour' },
      memo: { description: o.description },
    });
  }
  return { created: !exists, timezone, ...state, warnings: dstWarnings([o.cron], timezone, o.what) };
}

/** The daylight-saving nights of the coming year when the Schedule's crons would be skipped or doubled, as warning lines. */
export function dstWarnings(crons: string[], timezone: string, what: string): string[] {
  return dstHazards(crons, timezone, Date.now()).map((h) => dstHazardText(h, timezone, what));
}
