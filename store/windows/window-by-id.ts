import type { Queryable } from '../queryable';
import { WINDOW_COLUMNS, type MaintenanceWindowRow } from './window-row';

export async function windowById(db: Queryable, id: string): Promise<MaintenanceWindowRow | undefined> {
  const r = await db.query<MaintenanceWindowRow>(`SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window WHERE id = $1`, [id]);
  return r.rows[0];
}
