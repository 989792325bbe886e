import type { Queryable } from '../queryable';
import { ACTIVE_WINDOW_WHERE } from '../gate/sql-parts';
import { WINDOW_COLUMNS, type MaintenanceWindowRow } from './window-row';

/** The scheduled or in-progress window of a target, if any (at most one, R-MW-2). */
export async function activeWindow(db: Queryable): Promise<MaintenanceWindowRow | undefined> {
  const r = await db.query<MaintenanceWindowRow>(`SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window WHERE ${ACTIVE_WINDOW_WHERE}`);
  return r.rows[0];
}
