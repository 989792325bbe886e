import type { WindowState, WindowType } from '../../domain/maintenance';

/** A row of nightshift.maintenance_window (migration 0003), camel-cased by WINDOW_COLUMNS. */
export interface MaintenanceWindowRow {
  id: string;
  workflowId: string;
  type: WindowType;
  state: WindowState;
  phase: string;
  startsAt: Date;
  endsAt: Date;
  preventLoginsFrom: Date | null;
  message: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  /** what became of it once ended (migration 0024), null when it went well or ended before that column */
  outcome: string | null;
  /** the payload is not started with less than this left before the end (migration 0036), null: no cutoff */
  cutoffSeconds: number | null;
}

export const WINDOW_COLUMNS = `id, workflow_id AS "workflowId", type, state, phase, starts_at AS "startsAt", ends_at AS "endsAt",
  prevent_logins_from AS "preventLoginsFrom", message, created_at AS "createdAt", finished_at AS "finishedAt", outcome,
  cutoff_seconds AS "cutoffSeconds"`;
