import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { WindowState, WindowType } from '../domain/maintenance';
import type { MaxFailures } from '../domain/patch-input';
import { FailureType } from '../domain/failures';
import type { MailRetrying, NextStep, WindowRun } from '../domain/maintenance-details';
import type { DossierFailure } from '../domain/run-details';
import type { MaintenanceMail, MaintenanceMailKind } from '../domain/maintenance-text';

export type { NextStep, WindowRun } from '../domain/maintenance-details';

/**
 * Contract of the maintenance window workflow (R-MW-1 … R-MW-12). The CLI, the gate and the tests
 * import it; it imports nothing from Node. Times travel as ISO-8601 UTC strings.
 */

/** R-MW-9: the work run inside the window; backup and patch run their batch workflows as children. */
export type MaintenancePayload =
  | { kind: 'none' }
  /** dossiers: restrict the backup batch to these codes (its `only`); the batch's selection rules still apply */
  | { kind: 'backup'; dossiers?: string[] }
  /** manifest: the directory of patch packages to integrate (workflows/patch-integration.api.ts) */
  | { kind: 'patch'; manifest?: string; maxFailures?: MaxFailures }
  /** R-PI-11: the patch run takes a verified restore point of each dossier just before patching it */
  | { kind: 'backup+patch'; manifest?: string; maxFailures?: MaxFailures };
export type PayloadKind = MaintenancePayload['kind'];
export const PAYLOAD_KINDS = ['none', 'backup', 'patch', 'backup+patch'] as const satisfies readonly PayloadKind[];
/** Payload kinds that can run today; any other is refused as "not available yet". */
export const AVAILABLE_PAYLOADS: readonly PayloadKind[] = ['none', 'backup', 'patch', 'backup+patch'];

export interface MaintenanceWindowInput {
  target: string;
  type: WindowType;
  startsAt: string;
  endsAt: string;
  /** R-MW-5: new logins refused from this instant (before start). */
  preventLoginsFrom?: string;
  message?: string;
  payload: MaintenancePayload;
  /** R-MW-8: seconds between start and the work. */
  graceSeconds: number;
  /** R-MW-8: start the work as soon as no live session is left. */
  startWhenDrained: boolean;
  /** R-MW-8: refuse new connections to the target database and terminate the rest after the grace. */
  dbDrain: boolean;
  /** R-MW-10: who gets the "maintenance over" e-mail (and the failure alert). */
  notify: string[];
  /** IANA zone used for the times shown in the Temporal UI (the operator's). */
  displayTimeZone?: string;
  /**
   * R-MW-13: an occurrence of a recurring window (its Schedule's action). The times above are then a
   * template: the workflow moves them so that the window starts `announceAheadSeconds` after the
   * occurrence's scheduled time (domain/maintenance-recur.ts occurrenceInput).
   */
  recurrence?: MaintenanceRecurrence;
  /**
   * R-PI-11 (payload backup+patch only): `rollback` rolls the dossiers the patch run failed back to their
   * restore points (a rollback child), then the window goes on to its checks and gives access back.
   */
  onFailure?: 'rollback';
  /**
   * SSM's cutoff: the payload is not started when less than this many seconds remain before the planned end at the
   * moment it would start (after the drain); access comes back instead. Absent: no cutoff. Ignored with payload none.
   */
  cutoffSeconds?: number;
  /**
   * `maintenance schedule` waits this long (seconds from the workflow's start) for a worker to pick the window up, then
   * tells the operator it is withdrawn: a worker that picks it up later ends it at once (MaintenanceWindowWithdrawn),
   * doing nothing, so that what the command said stays true. Absent (recurring occurrences): no such limit.
   */
  pickupWithinSeconds?: number;
}

/** A payload not started because less than the cutoff remained before the planned end (workflow times). */
export interface CutoffReached {
  /** seconds left before the planned end when the payload would have started */
  remainingSeconds: number;
  cutoffSeconds: number;
  at: string;
}

export interface MaintenanceRecurrence {
  scheduleId: string;
  announceAheadSeconds: number;
}

/**
 * Finer progress than the row's state: scheduled → blocking_logins → closing_sessions → draining →
 * working → checking → restoring → completed; failed (target kept closed until reopen); cancelled.
 */
export const MAINTENANCE_PHASES = [
  'starting',
  'scheduled',
  'blocking_logins',
  'closing_sessions',
  'draining',
  'working',
  'checking',
  'restoring',
  'failed',
  'completed',
  'cancelled',
] as const;
export type MaintenancePhase = (typeof MAINTENANCE_PHASES)[number];

/** What the database drain took away, so that it can be given back exactly (R-MW-8). */
export interface DbAccessSnapshot {
  database: string;
  nightshiftRole: string;
  /** Roles (or 'PUBLIC') that had CONNECT and lost it for the window. */
  revoked: string[];
}

export interface MaintenanceStatus extends Pick<MaintenanceWindowInput, 'type' | 'startsAt' | 'endsAt' | 'preventLoginsFrom' | 'message' | 'payload' | 'graceSeconds' | 'startWhenDrained' | 'dbDrain' | 'notify' | 'cutoffSeconds'> {
  target: string;
  workflowId: string;
  /** Set once the window's row exists in the target database. */
  windowId?: string;
  state: WindowState;
  phase: MaintenancePhase;
  /** Live sessions at the last look (R-MW-11, R-SE-3); null before the start. */
  openSessions: number | null;
  /** Live sessions ordered to close and not gone yet (each told by its next heartbeat answer). */
  sessionsToClose: number | null;
  forcedSessions: number;
  terminatedBackends: number;
  /** Workflow time of each phase change, oldest first. */
  phases: { phase: MaintenancePhase; at: string }[];
  /** Why the window failed (work or post-check), R-MW-10; cleared by reopen (see reopenedAfter). */
  failure?: string;
  dbAccess?: DbAccessSnapshot;
  /** The payload child (R-MW-9) once started, with its run id and outcome once known. */
  payloadRun?: WindowRun;
  /** R-PI-11 `onFailure: rollback`: the rollback child of the patch run's failed dossiers, with how many it restored. */
  rollbackRun?: WindowRun;
  /** Backup batches and patch runs started by hand while the window was in progress (their workflow ids). */
  linkedRuns?: WindowRun[];
  /** What failed in this window, newest last, capped (domain/run-details FAILURES_CAP): payload dossiers, post-checks. */
  failures?: DossierFailure[];
  failuresTotal?: number;
  /** What to run next, copyable (empty when there is nothing to do). */
  nextSteps?: NextStep[];
  /** The failure a reopen gave access back after (R-MW-10): history, no longer the window's state. */
  reopenedAfter?: string;
  /** R-MW-9: a window of work by hand ended by its end time, nobody having said `complete` (drill W: it read "completed") */
  endedAtEnd?: boolean;
  /** The payload was not started: the cutoff was reached (the window then gave access back without it). */
  cutoffReached?: CutoffReached;
  /**
   * The planned end passed while the window's work went on (at: the planned end), and whether --notify was mailed then;
   * `during`: what went on then (its sessions being closed, or its payload running; absent in older windows: the payload).
   */
  overrun?: { at: string; mailed: boolean; during?: OverrunDuring };
  /** R-MW-7: `complete` said before the work began (sessions still being closed): access given back as a cancel does, nobody closed by force. */
  completedEarly?: boolean;
  /** Why the window was refused before its row existed (R-MW-2: another window holds the target): it never started. */
  refused?: string;
  /**
   * R-MW-10: the --notify mails the window could not send in its own few attempts (the SMTP server away), handed to a
   * workflow of their own that retries each for up to a day (maintenanceMailWorkflow): which, and why the first failed.
   */
  mailsRetrying?: MailRetrying[];
}

export type { MailRetrying } from '../domain/maintenance-details';

/** What the mail workflow sends: the window's mail, as the window built it. */
export interface MaintenanceMailInput {
  target: string;
  mail: MaintenanceMail;
}

/** A window's mail handed to its own workflow: one id per window run and mail. */
export const maintenanceMailWorkflowId = (windowWorkflowId: string, windowRunId: string, kind: MaintenanceMailKind, n: number): string => `${windowWorkflowId}/mail/${kind}-${n}/${windowRunId}`;

/** What went on when a window's planned end passed (its overrun). */
export type OverrunDuring = 'closing_sessions' | 'payload';

export interface MaintenanceWindowResult {
  status: MaintenanceStatus;
  /** Whether the closing e-mail went out (never fails the window). */
  mailSent: boolean;
  /** What failed during the window (capped; a reopened window keeps them here), empty when nothing did. */
  failures?: DossierFailure[];
  /** What to run next (e.g. the payload's retry after a reopen), null when nothing is left to do. */
  nextCommand?: string | null;
}

/** Fields editable while scheduled (R-MW-1); null clears an optional field. */
export interface MaintenanceEdit {
  startsAt?: string;
  endsAt?: string;
  /** Editing the duration moves the end (R-MW-1). */
  durationSeconds?: number;
  type?: WindowType;
  message?: string | null;
  preventLoginsFrom?: string | null;
  /** null removes the cutoff */
  cutoffSeconds?: number | null;
}

export interface MaintenanceExtend {
  endsAt: string;
}

export const maintenanceStatusQuery = defineQuery<MaintenanceStatus>('status');
export const editMaintenanceUpdate = defineUpdate<MaintenanceStatus, [MaintenanceEdit]>('edit');
export const extendMaintenanceUpdate = defineUpdate<MaintenanceStatus, [MaintenanceExtend]>('extend');
export const cancelMaintenanceUpdate = defineUpdate<MaintenanceStatus, []>('cancel');
export const completeMaintenanceUpdate = defineUpdate<MaintenanceStatus, []>('complete');
export const reopenMaintenanceUpdate = defineUpdate<MaintenanceStatus, []>('reopen');

/** One window at a time per target (R-MW-2): the id is the target's. */
export const maintenanceWorkflowId = (target: string): string => `maintenance/${target}`;

/** Failure types of this workflow (named in the CLI's messages and asserted by the tests). */
export const MaintenanceFailure = {
  WindowExists: FailureType.MaintenanceWindowExists,
  PayloadUnavailable: FailureType.PayloadUnavailable,
  PostCheckFailed: FailureType.PostCheckFailed,
  BackupRunFailed: FailureType.BackupRunFailed,
  BackupRunIncomplete: FailureType.BackupRunIncomplete,
  DbDrainRefused: FailureType.DbDrainRefused,
} as const;

/**
 * Start options shared by the CLI and the tests: FAIL on a running window of the same target,
 * id reuse allowed once the previous window is closed (R-MW-2).
 */
export function maintenanceStartOptions(input: MaintenanceWindowInput, taskQueue: string, staticSummary?: string) {
  return {
    taskQueue,
    workflowId: maintenanceWorkflowId(input.target),
    args: [input] as [MaintenanceWindowInput],
    workflowIdConflictPolicy: 'FAIL' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
    staticSummary,
  };
}
