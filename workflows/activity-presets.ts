import type { ActivityOptions } from '@temporalio/common';

/**
 * Activity option presets shared by the workflows (deterministic code: no Node imports). A workflow
 * with other needs keeps its own preset next to its code.
 */

/**
 * A short database call (a ledger row, a plan). A worker that dies during one costs its start-to-close
 * (15 s, was 1 minute: issue 10); a connection attempt gives up after 5 s (workers/resources.ts), so an
 * attempt against a database that is down ends well inside it. Retries every 10 s at most, for about
 * four minutes of outage in all.
 */
export const DB_CALL = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 25 },
} as const satisfies ActivityOptions;

/** A run's report (the backup batch's, the verification's): must survive a busy disk or database, so generous retries. */
export const RUN_REPORT = {
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
} as const satisfies ActivityOptions;

/** A run's report mail (R-BK-8): an SMTP outage delays it for up to a day, never fails the run. */
export const RUN_REPORT_MAIL = {
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
} as const satisfies ActivityOptions;

/** Retries of a long batch page (a chunk of dossiers): it heartbeats, and resumes where its heartbeat left off. */
export const BATCH_PAGE_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 20,
} as const satisfies ActivityOptions['retry'];
