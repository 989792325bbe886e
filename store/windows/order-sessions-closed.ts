import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from '../gate/sql-parts';

/** R-MW-7: tells every live session without an order to close within ackSeconds (idempotent). Returns how many. */
export async function orderSessionsClosed(db: Queryable, ackSeconds: number): Promise<number> {
  const r = await db.query(
    `UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + make_interval(secs => $1)
            WHERE ${LIVE_SESSION_SQL} AND close_requested_at IS NULL`,
    [ackSeconds],
  );
  return r.rowCount ?? 0;
}
