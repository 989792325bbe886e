import type { Queryable } from '../queryable';
import { WINDOW_COLUMNS, type MaintenanceWindowRow } from './window-row';

/** The window that ended last (completed, cancelled, failed then closed): what `maintenance status` names with none active. */
export async function lastEndedWindow(db: Queryable): Promise<MaintenanceWindowRow | undefined> {
  const r = await db.query<MaintenanceWindowRow>(
    `SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, created_at DESC LIMIT 1`,
  );
  return r.rows[0];
}
