import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from '../gate/sql-parts';

/**
 * R-MW-7: orders every live session without an order closed (idempotent). The session learns it from its next
 * heartbeat answer, which gives it its 15 s (store/gate/heartbeat-sessions.ts); `untoldSeconds` is the deadline of an
 * order no heartbeat tells (a client gone): a heartbeat interval and the 15 s. Returns how many.
 */
export async function orderSessionsClosed(db: Queryable, untoldSeconds: number): Promise<number> {
  const r = await db.query(
    `UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + make_interval(secs => $1)
            WHERE ${LIVE_SESSION_SQL} AND close_requested_at IS NULL`,
    [untoldSeconds],
  );
  return r.rowCount ?? 0;
}
