import { toWindow, type ActiveWindow, type WindowRow } from './active-window-row';
import type { Queryable } from '../queryable';
import { ACTIVE_WINDOW_SQL, LIVE_SESSION_SQL } from './sql-parts';

export interface TargetStatus {
  now: Date;
  window?: ActiveWindow;
  openSessions: number;
}

/** R-SE-3: live sessions, with the active window. */
export async function readStatus(db: Queryable): Promise<TargetStatus> {
  const { rows } = await db.query<WindowRow & { now: Date; open_sessions: number }>(
    `SELECT now() AS now, w.*,
            (SELECT count(*)::int FROM nightshift.session WHERE ${LIVE_SESSION_SQL}) AS open_sessions
       FROM (VALUES (1)) AS one(x) LEFT JOIN (${ACTIVE_WINDOW_SQL}) w ON true`,
  );
  const row = rows[0]!;
  return { now: row.now, window: toWindow(row), openSessions: row.open_sessions };
}
