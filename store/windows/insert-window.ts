import type { Queryable } from '../queryable';
import type { WindowType } from '../../domain/maintenance';

export interface NewWindow {
  id: string;
  workflowId: string;
  type: WindowType;
  startsAt: string;
  endsAt: string;
  preventLoginsFrom?: string;
  message?: string;
  cutoffSeconds?: number;
}

/**
 * Inserts a scheduled window. ON CONFLICT (id): a retry after a lost acknowledgement finds its own row;
 * the unique index maintenance_window_one_active refuses a second active window (R-MW-2).
 */
export async function insertWindow(db: Queryable, w: NewWindow): Promise<void> {
  await db.query(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, prevent_logins_from, message, cutoff_seconds)
           VALUES ($1, $2, $3, 'scheduled', 'scheduled', $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
    [w.id, w.workflowId, w.type, w.startsAt, w.endsAt, w.preventLoginsFrom ?? null, w.message ?? null, w.cutoffSeconds ?? null],
  );
}
