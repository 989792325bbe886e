import type { Queryable } from '../queryable';
import { WINDOW_COLUMNS, type MaintenanceWindowRow } from './window-row';

/**
 * `maintenance show ID`: the windows whose id starts with `prefix` (lower-case hex and dashes, as `maintenance list`
 * prints them), at most two: one is the window, two say the prefix is ambiguous. A range over the primary key.
 */
export async function windowsByIdPrefix(db: Queryable, prefix: string): Promise<MaintenanceWindowRow[]> {
  const low = `${prefix}${'00000000-0000-0000-0000-000000000000'.slice(prefix.length)}`;
  const high = `${prefix}${'ffffffff-ffff-ffff-ffff-ffffffffffff'.slice(prefix.length)}`;
  const r = await db.query<MaintenanceWindowRow>(
    `SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT 2`,
    [low, high],
  );
  return r.rows;
}
