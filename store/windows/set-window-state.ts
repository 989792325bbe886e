import type { Queryable } from '../queryable';
import type { WindowState } from '../../domain/maintenance';

/**
 * Moves the row's state and phase; completed/cancelled stamps finished_at (the gate gives access back) and writes
 * the window's outcome when it is given (migration 0024; empty: it went well).
 */
export async function setWindowState(db: Queryable, id: string, state: WindowState, phase: string, outcome?: string): Promise<void> {
  const finished = state === 'completed' || state === 'cancelled';
  await db.query(
    `UPDATE nightshift.maintenance_window
            SET state = $2, phase = $3, updated_at = now(), finished_at = CASE WHEN $4 THEN coalesce(finished_at, now()) END,
                outcome = CASE WHEN $5::text IS NULL THEN outcome ELSE nullif($5::text, '') END
          WHERE id = $1`,
    [id, state, phase, finished, outcome ?? null],
  );
}
