import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from '../gate/sql-parts';

/** R-MW-8: closes by force the live sessions whose close_by is at or before cutoff (or all of them). Returns how many. */
export async function forceCloseSessions(db: Queryable, cutoff: string, closeAll: boolean): Promise<number> {
  const r = await db.query(
    `UPDATE nightshift.session SET closed_at = now(), close_reason = 'forced'
            WHERE ${LIVE_SESSION_SQL} AND ($2 OR close_by <= $1::timestamptz)`,
    [cutoff, closeAll],
  );
  return r.rowCount ?? 0;
}
