import { z } from 'zod';
import { WINDOW_TYPES } from './maintenance';
import { dossierCodeSchema } from './dossier';
import { emailAddressSchema } from './email';
import { plainTextSchema } from './text';
import { targetNameSchema } from './target';
import { maxFailuresSchema } from './patch-input';
import { issuesText } from './validation';
import type {
  MaintenanceEdit,
  MaintenanceWindowInput,
} from '../workflows/maintenance-window.api';

/**
 * Validation of maintenance window inputs (R-MW-1 … R-MW-12): the CLI before `start`, the first
 * activity again, and the workflow's update validators. Pure (no clock read: `now` is passed in).
 */

/** A start a little in the past is still "now" (the operator typed it a few seconds ago). */
export const START_PAST_TOLERANCE_MS = 60_000;
export const MAX_WINDOW_SECONDS = 7 * 86_400;
const MAX_WINDOW_MS = MAX_WINDOW_SECONDS * 1000;
export const WINDOW_TOO_LONG = 'a window lasts at most 7 days';

/**
 * 45m, 2h, 1h30m, 90s, 1d: a positive whole duration with units. Any number of digits (durationSchema bounds the
 * text): a well-formed but huge duration (99999999h) is refused by the limit it breaks, not as no duration.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || text.trim() === '') return undefined;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}

export const durationSchema = z
  .string({ error: 'expected a duration such as 45m, 2h or 1h30m' })
  .max(30, 'expected a duration such as 45m, 2h or 1h30m')
  .transform((v, ctx) => {
    const seconds = parseDuration(v);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 30)}" is not a duration: use 45m, 2h, 1h30m or 90s` });
      return z.NEVER;
    }
    return seconds;
  });

/** An instant with an explicit offset (what the workflow and the activities receive). */
export const isoInstantSchema = z
  .string({ error: 'expected an ISO-8601 time' })
  .max(40, 'expected an ISO-8601 time')
  .refine((v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)), {
    message: 'expected an ISO-8601 time with a zone, such as 2026-03-01T13:00:00Z',
  });

/** Free text shown to operators and users: printable (lines and tabs allowed), bounded. */
export const messageSchema = plainTextSchema('the message', 2000, { multiline: true });

export const emailSchema = emailAddressSchema('expected an e-mail address such as ops@example.com');

export const payloadSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('none') }).strict(),
    // the batch's own `only` rules (activities/backup-batch.ts): refused here, before the window starts
    z
      .object({
        kind: z.literal('backup'),
        dossiers: z.array(dossierCodeSchema).min(1, 'give at least one dossier code').max(10_000, 'at most 10,000 codes').optional(),
      })
      .strict(),
    // maxFailures: the patch run's (AWS SSM's MaxErrors)
    z.object({ kind: z.literal('patch'), manifest: z.string().min(1).max(4096).optional(), maxFailures: maxFailuresSchema.optional() }).strict(),
    z.object({ kind: z.literal('backup+patch'), manifest: z.string().min(1).max(4096).optional(), maxFailures: maxFailuresSchema.optional() }).strict(),
  ],
  { error: 'payload must be one of none, backup, patch, backup+patch' },
);

export interface WindowTimes {
  startsAt: string;
  endsAt: string;
  preventLoginsFrom?: string | null;
  graceSeconds: number;
  /** the payload is not started with less than this left before the end (absent or null: no cutoff) */
  cutoffSeconds?: number | null;
}

export const CUTOFF_NOT_SHORTER = 'the cutoff must be shorter than the window';

/** SSM's cutoff: a cutoff as long as the window would never let a payload start. */
export function cutoffProblem(t: WindowTimes): string | undefined {
  if (t.cutoffSeconds === undefined || t.cutoffSeconds === null) return undefined;
  return t.cutoffSeconds * 1000 >= Date.parse(t.endsAt) - Date.parse(t.startsAt) ? CUTOFF_NOT_SHORTER : undefined;
}

const cutoffSchema = z.number().int('the cutoff is a whole number of seconds').positive('the cutoff must be positive').max(MAX_WINDOW_SECONDS, WINDOW_TOO_LONG);

const LOGINS_AFTER_START = 'logins can only be blocked from a time before the start (--prevent-logins-from)';

/** The rules between the times of a window (R-MW-1, R-MW-5, R-MW-8); the first problem, if any. */
export function timesProblem(t: WindowTimes): string | undefined {
  const start = Date.parse(t.startsAt);
  const end = Date.parse(t.endsAt);
  if (!(end > start)) return 'the end must be after the start (the duration must be positive)';
  if (end - start > MAX_WINDOW_MS) return WINDOW_TOO_LONG;
  if (t.graceSeconds * 1000 > end - start) return 'the drain grace is longer than the window';
  if (t.preventLoginsFrom) {
    const from = Date.parse(t.preventLoginsFrom);
    if (from > start) return LOGINS_AFTER_START;
  }
  return undefined;
}

export function startInPast(startsAt: string, nowMs: number): boolean {
  return Date.parse(startsAt) < nowMs - START_PAST_TOLERANCE_MS;
}

export const maintenanceWindowInputSchema = z
  .object({
    target: targetNameSchema,
    type: z.enum(WINDOW_TYPES, { error: 'type must be database or deployment' }),
    startsAt: isoInstantSchema,
    endsAt: isoInstantSchema,
    preventLoginsFrom: isoInstantSchema.optional(),
    message: messageSchema.optional(),
    payload: payloadSchema,
    onFailure: z.enum(['rollback'], { error: 'on-failure: expected rollback' }).optional(),
    graceSeconds: z.number().int().min(0).max(86_400),
    cutoffSeconds: cutoffSchema.optional(),
    pickupWithinSeconds: z.number().int().min(1).max(3600).optional(),
    startWhenDrained: z.boolean(),
    dbDrain: z.boolean(),
    notify: z.array(emailSchema).max(100, 'at most 100 addresses'),
    displayTimeZone: z.string().max(64).optional(),
    recurrence: z
      .object({ scheduleId: z.string().min(1).max(200), announceAheadSeconds: z.number().int().min(0).max(7 * 86_400) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const problem = timesProblem(v);
    if (v.onFailure === 'rollback' && v.payload.kind !== 'backup+patch') {
      ctx.addIssue({ code: 'custom', path: ['onFailure'], message: 'on-failure rollback needs the payload backup+patch (its restore points are what a rollback restores, R-PI-11)' });
    }
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['endsAt'] });
    const cutoff = problem ? undefined : cutoffProblem(v);
    if (cutoff) ctx.addIssue({ code: 'custom', message: cutoff, path: ['cutoffSeconds'] });
  });

// The contract's type and the schema must agree.
type _InputMatches = z.infer<typeof maintenanceWindowInputSchema> extends MaintenanceWindowInput ? true : never;
const _inputMatches: _InputMatches = true;
void _inputMatches;

export const maintenanceEditSchema = z
  .object({
    startsAt: isoInstantSchema.optional(),
    endsAt: isoInstantSchema.optional(),
    durationSeconds: z.number().int('the duration is a whole number of seconds').positive('the duration must be positive').max(MAX_WINDOW_SECONDS, WINDOW_TOO_LONG).optional(),
    type: z.enum(WINDOW_TYPES, { error: 'type must be database or deployment' }).optional(),
    message: messageSchema.nullable().optional(),
    preventLoginsFrom: isoInstantSchema.nullable().optional(),
    cutoffSeconds: cutoffSchema.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'nothing to change')
  .refine((v) => v.endsAt === undefined || v.durationSeconds === undefined, 'give the end or the duration, not both');

export const maintenanceExtendSchema = z.object({ endsAt: isoInstantSchema }).strict();

export interface EditableWindow extends WindowTimes {
  type: MaintenanceWindowInput['type'];
  message?: string;
  preventLoginsFrom?: string;
  cutoffSeconds?: number;
  /** the payload starts once the drain is over, before the grace ends (`--start-when-drained`) */
  startWhenDrained?: boolean;
}

/** `schedule --cutoff`'s rule for an edit too: a payload that starts after the grace must still have the cutoff left. */
export const CUTOFF_AFTER_GRACE = 'the payload would start after the drain grace with less than the cutoff left before the end: it would never start (shorten the cutoff or the grace, or lengthen the window)';

function cutoffAfterGrace(t: EditableWindow): boolean {
  if (t.cutoffSeconds === undefined || t.cutoffSeconds === null || t.startWhenDrained) return false;
  return (Date.parse(t.endsAt) - Date.parse(t.startsAt)) / 1000 - t.graceSeconds < t.cutoffSeconds;
}

/**
 * The window after an edit: moving the start keeps the duration unless the end or the duration is
 * given; a new duration moves the end (R-MW-1).
 */
export function applyEdit<W extends EditableWindow>(w: W, edit: MaintenanceEdit): W {
  const start = edit.startsAt ?? w.startsAt;
  const durationMs = edit.durationSeconds !== undefined ? edit.durationSeconds * 1000 : Date.parse(w.endsAt) - Date.parse(w.startsAt);
  const endsAt = edit.endsAt ?? new Date(Date.parse(start) + durationMs).toISOString();
  const next: W = { ...w, startsAt: new Date(Date.parse(start)).toISOString(), endsAt: new Date(Date.parse(endsAt)).toISOString() };
  if (edit.type !== undefined) next.type = edit.type;
  if (edit.message !== undefined) next.message = edit.message ?? undefined;
  if (edit.preventLoginsFrom !== undefined) next.preventLoginsFrom = edit.preventLoginsFrom ? new Date(Date.parse(edit.preventLoginsFrom)).toISOString() : undefined;
  if (edit.cutoffSeconds !== undefined) next.cutoffSeconds = edit.cutoffSeconds ?? undefined;
  return next;
}

/** A refused edit or extension, with the field of the window it is about (the CLI names the flag that set it). */
export interface FieldProblem {
  field: 'startsAt' | 'endsAt' | 'preventLoginsFrom' | 'cutoffSeconds' | 'value';
  message: string;
}

/** Why an edit of a scheduled window is refused, if it is, and about which field. */
export function editFieldProblem(w: EditableWindow, edit: unknown, nowMs: number): FieldProblem | undefined {
  const parsed = maintenanceEditSchema.safeParse(edit);
  if (!parsed.success) return { field: 'value', message: issuesText(parsed.error) };
  const next = applyEdit(w, parsed.data as MaintenanceEdit);
  if (parsed.data.startsAt !== undefined && startInPast(next.startsAt, nowMs)) return { field: 'startsAt', message: 'the new start is in the past' };
  if (Date.parse(next.endsAt) <= nowMs) return { field: 'endsAt', message: 'the new end is in the past' };
  const problem = timesProblem(next);
  if (problem === undefined) {
    const cutoff = cutoffProblem(next) ?? (cutoffAfterGrace(next) ? CUTOFF_AFTER_GRACE : undefined);
    // a cutoff given is the one refused; else the window was shortened under it
    if (cutoff) return { field: parsed.data.cutoffSeconds != null ? 'cutoffSeconds' : 'endsAt', message: cutoff };
    return undefined;
  }
  // a block after the start is about the block when it was given, else about the start moved before it
  if (problem === LOGINS_AFTER_START) return { field: parsed.data.preventLoginsFrom !== undefined ? 'preventLoginsFrom' : 'startsAt', message: problem };
  return { field: 'endsAt', message: problem };
}

/** Why an edit of a scheduled window is refused, if it is. */
export function editProblem(w: EditableWindow, edit: unknown, nowMs: number): string | undefined {
  return editFieldProblem(w, edit, nowMs)?.message;
}

/** The refusal of an extension that does not move the end later (the CLI's --by reads the end again on it). */
export const EXTEND_NOT_LATER = 'an extension must move the end later than the current end';

/** Why an extension of a window in progress is refused, if it is (R-MW-11). Always about the new end. */
export function extendProblem(w: WindowTimes, extend: unknown, nowMs: number): string | undefined {
  const parsed = maintenanceExtendSchema.safeParse(extend);
  if (!parsed.success) return issuesText(parsed.error);
  const end = Date.parse(parsed.data.endsAt);
  if (end <= Date.parse(w.endsAt)) return EXTEND_NOT_LATER;
  if (end <= nowMs) return 'the new end is in the past';
  if (end - Date.parse(w.startsAt) > MAX_WINDOW_MS) return WINDOW_TOO_LONG;
  return undefined;
}

export { issuesText };
