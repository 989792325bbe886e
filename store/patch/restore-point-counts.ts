import type { RestorePointTally } from '../../domain/run-details';
import type { Queryable } from '../queryable';

export type RestorePointCounts = RestorePointTally;

/** How many restore points the run took, reused and failed to take (R-PI-11). */
export async function restorePointCounts(db: Queryable, runId: number): Promise<RestorePointCounts> {
  const { rows } = await db.query<{ taken: number; reused: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE restore_point_state = 'taken')::int AS taken,
            count(*) FILTER (WHERE restore_point_state = 'reused')::int AS reused,
            count(*) FILTER (WHERE restore_point_state = 'failed')::int AS failed
       FROM nightshift.patch_run_item WHERE run_id = $1`,
    [runId],
  );
  return rows[0]!;
}
