import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from '../gate/sql-parts';

export interface SessionsLeft {
  live: number;
  /** live sessions ordered to close and not gone yet */
  pending: number;
  /** of them, those a heartbeat answer told (close_told_at): the others learn it at their next heartbeat */
  told: number;
  /** earliest close_by among them */
  next: Date | null;
  /** latest close_by among them */
  last: Date | null;
}

/** Live sessions (R-SE-3) and the close orders among them (R-MW-7). */
export async function sessionsLeft(db: Queryable): Promise<SessionsLeft> {
  const r = await db.query<SessionsLeft>(
    `SELECT count(*)::int AS live, count(*) FILTER (WHERE close_requested_at IS NOT NULL)::int AS pending,
                  count(*) FILTER (WHERE close_told_at IS NOT NULL)::int AS told,
                  min(close_by) AS next, max(close_by) AS last
             FROM nightshift.session WHERE ${LIVE_SESSION_SQL}`,
  );
  return r.rows[0]!;
}
