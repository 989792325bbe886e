import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from './sql-parts';

/** Logout; after a close order it is the acknowledgement (R-MW-7). */
/** Closes the session; also says which dossiers it held open (leaving them is an exit, R-BK-9). */
export async function logout(db: Queryable, id: string, tokenHash: string): Promise<{ reason: 'logout' | 'acknowledged'; held: string[] } | undefined> {
  const { rows } = await db.query<{ close_reason: 'logout' | 'acknowledged'; held: string[] }>(
    `UPDATE nightshift.session
        SET closed_at = now(), close_reason = CASE WHEN close_requested_at IS NULL THEN 'logout' ELSE 'acknowledged' END
      WHERE id = $1 AND token_hash = $2 AND ${LIVE_SESSION_SQL}
     RETURNING close_reason, ARRAY(SELECT dossier_code FROM nightshift.session_dossier WHERE session_id = $1 ORDER BY dossier_code) AS held`,
    [id, tokenHash],
  );
  return rows[0] && { reason: rows[0].close_reason, held: rows[0].held };
}
