import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL, TARGET_CLOSED_SQL } from '../gate/sql-parts';

/**
 * Access back (R-MW-12 cancel, completion, reopen): the live sessions told to close (R-MW-7) and not gone
 * yet go back to normal, so that their next heartbeat answers continue. Only when no window keeps the
 * target closed (idempotent; a retry after the next window has ordered its sessions leaves them). Returns how many.
 */
export async function withdrawCloseOrders(db: Queryable): Promise<number> {
  const r = await db.query(
    `UPDATE nightshift.session SET close_requested_at = NULL, close_by = NULL, close_told_at = NULL
            WHERE ${LIVE_SESSION_SQL} AND close_requested_at IS NOT NULL AND NOT ${TARGET_CLOSED_SQL}`,
  );
  return r.rowCount ?? 0;
}
