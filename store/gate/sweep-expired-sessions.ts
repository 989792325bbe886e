import type { Queryable } from '../queryable';

/** Marks sessions that stopped heartbeating as closed ('expired'), at the instant they expired. */
export async function sweepExpiredSessions(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.session SET closed_at = expires_at, close_reason = 'expired'
      WHERE closed_at IS NULL AND expires_at <= now()`,
  );
  return rowCount ?? 0;
}
