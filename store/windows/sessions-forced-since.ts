import type { Queryable } from '../queryable';

/**
 * R-MW-7: the sessions closed by force since `since` (a window's start) after a close order of that window, by the
 * window's own steps or by the gate's heartbeat (store/gate/heartbeat-sessions.ts OVERDUE: the backstop while the
 * window's workflow could not force them). The window's forced count is at least this.
 */
export async function sessionsForcedSince(db: Queryable, since: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM nightshift.session
      WHERE close_reason = 'forced' AND closed_at >= $1::timestamptz AND close_requested_at >= $1::timestamptz`,
    [since],
  );
  return r.rows[0]!.n;
}
