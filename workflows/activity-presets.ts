import type { ActivityOptions } from '@temporalio/common';

/**
 * Activity option presets shared by the workflows (deterministic code: no Node imports). A workflow
 * with other needs keeps its own preset next to its code.
 */

/** A short database call (a ledger row, a plan): a dropped connection is retried, ten times at most. */
export const DB_CALL = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
} as const satisfies ActivityOptions;

/** Retries of a long batch page (a chunk of dossiers): it heartbeats, and resumes where its heartbeat left off. */
export const BATCH_PAGE_RETRY = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 20,
} as const satisfies ActivityOptions['retry'];
