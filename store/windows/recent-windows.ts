import type { Queryable } from '../queryable';
import { WINDOW_COLUMNS, type MaintenanceWindowRow } from './window-row';

/** The latest windows of a target, newest start first. */
export async function recentWindows(db: Queryable, limit = 20): Promise<MaintenanceWindowRow[]> {
  const r = await db.query<MaintenanceWindowRow>(
    `SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window ORDER BY starts_at DESC, created_at DESC LIMIT $1`,
    [limit],
  );
  return r.rows;
}
