import { toWindow, type ActiveWindow, type WindowRow } from './active-window-row';
import type { Queryable } from '../queryable';
import { ACTIVE_WINDOW_SQL, LIVE_SESSION_SQL, WINDOW_CLOSES_TARGET_WHERE } from './sql-parts';

export interface HeartbeatCall {
  id: string;
  /** SHA-256 of the session token the caller sent */
  tokenHash: string;
}

export interface SessionOrder {
  closeRequestedAt: Date | null;
  closeBy: Date | null;
}

export interface HeartbeatBatch {
  /** the database clock of the statement: every decision of the batch uses it */
  now: Date;
  window?: ActiveWindow;
  /** the calls that matched a live session with their token, keyed `${id} ${tokenHash}`, with the session's close order */
  live: Map<string, SessionOrder>;
}

export const heartbeatKey = (id: string, tokenHash: string): string => `${id} ${tokenHash}`;

/**
 * R-MW-7 kept by the gate itself: a session told to close whose deadline passed GATE_FORCE_AFTER_SECONDS ago, while the
 * window still keeps the target closed, is closed by force by its own heartbeat (drill C, session 37: with Temporal or
 * every worker down, sessions that ignored the order kept answering `close` for a minute). The window's workflow forces
 * it at the deadline itself, and counts it: the gate is the backstop for when the workflow cannot, a little after.
 */
export const GATE_FORCE_AFTER_SECONDS = 10;
const OVERDUE = `(closing.yes AND s.close_told_at IS NOT NULL AND s.close_by + make_interval(secs => ${GATE_FORCE_AFTER_SECONDS}) <= now())`;

/**
 * R-SE-1 / R-MW-7 for many heartbeats at once, in one statement: every call whose session is live and
 * whose token matches is kept alive for timeoutSeconds more, and, when the active window is closed at
 * the database's now() (in progress, or scheduled and its start has come), told to close in
 * ackSeconds from this answer, the first that tells it (R-MW-7: 15 s after it was told): an order the window's start
 * wrote for every session (its deadline an interval later, for a client that never beats again) is told here and its
 * deadline moves to now + ackSeconds; once told, the order stands as it is (another gate's answer told it first).
 * A told session whose deadline has passed is closed by force instead (OVERDUE), and comes back absent from `live`.
 * Once no window keeps the target closed, an order left on the session is withdrawn (the window gives
 * access back and withdraws them itself, but a heartbeat that read the window just before its cancel
 * committed may write one after).
 *
 * - Rows are found by primary key (the calls' ids: the cost follows the batch, not the number of open
 *   sessions) and locked in id order; liveness is checked by the UPDATE on the locked row.
 * - skipLocked (a batch of several): a row another transaction holds is skipped rather than waited for,
 *   so that a batch never waits while holding other rows: it cannot deadlock with the workflow's bulk
 *   close orders and forced closes, which lock in their own order. A skipped call comes back absent
 *   from `live`, as a dead one does: the caller asks again for it alone (one row lock: no cycle).
 * - Its commit does not wait for the WAL flush unless the statement writes close orders (the
 *   set_config decides on the same snapshot): a heartbeat lost in a database crash only shortens a
 *   session by one interval, while an order, once told, must stand. Not waiting for the disk about
 *   doubles the heartbeats a target absorbs.
 * - A call repeated in the batch (one session beating twice) is answered from the same row.
 */
export async function heartbeatSessions(
  db: Queryable,
  calls: readonly HeartbeatCall[],
  timeoutSeconds: number,
  ackSeconds: number,
  { skipLocked }: { skipLocked: boolean },
): Promise<HeartbeatBatch> {
  const { rows } = await db.query<WindowRow & { now: Date; id: string | null; token_hash: string | null; close_requested_at: Date | null; close_by: Date | null; closed_at: Date | null }>({
    name: skipLocked ? 'gate-heartbeat-sessions-skip-locked' : 'gate-heartbeat-sessions',
    text: `WITH w AS (${ACTIVE_WINDOW_SQL}),
          closing AS (SELECT EXISTS (SELECT 1 FROM w WHERE ${WINDOW_CLOSES_TARGET_WHERE}) AS yes),
          commit_mode AS (SELECT set_config('synchronous_commit', CASE WHEN closing.yes THEN 'on' ELSE 'off' END, true) AS mode FROM closing),
          calls AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS c(id, token_hash)),
          locked AS (
            SELECT s.id FROM nightshift.session s
             WHERE s.id = ANY ($1::uuid[]) AND s.closed_at IS NULL
               AND EXISTS (SELECT 1 FROM calls c WHERE c.id = s.id AND c.token_hash = s.token_hash)
             ORDER BY s.id
               FOR NO KEY UPDATE OF s${skipLocked ? ' SKIP LOCKED' : ''}),
          beat AS (
            UPDATE nightshift.session s
               SET closed_at = CASE WHEN ${OVERDUE} THEN now() END,
                   close_reason = CASE WHEN ${OVERDUE} THEN 'forced' ELSE s.close_reason END,
                   last_seen_at = now(),
                   expires_at = now() + make_interval(secs => $3::float8),
                   close_requested_at = CASE WHEN NOT closing.yes THEN NULL WHEN s.close_requested_at IS NULL THEN now() ELSE s.close_requested_at END,
                   close_by = CASE WHEN NOT closing.yes THEN NULL WHEN s.close_told_at IS NULL THEN now() + make_interval(secs => $4::float8) ELSE s.close_by END,
                   close_told_at = CASE WHEN NOT closing.yes THEN NULL WHEN s.close_told_at IS NULL THEN now() ELSE s.close_told_at END
              FROM locked, closing, commit_mode
             WHERE s.id = locked.id AND ${LIVE_SESSION_SQL} AND commit_mode.mode IS NOT NULL
            RETURNING s.id, s.token_hash, s.close_requested_at, s.close_by, s.closed_at)
     SELECT now() AS now, w.type, w.state, w.starts_at, w.ends_at, w.prevent_logins_from, w.message,
            beat.id, beat.token_hash, beat.close_requested_at, beat.close_by, beat.closed_at
       FROM (VALUES (1)) AS one(x) LEFT JOIN w ON true LEFT JOIN beat ON true`,
    values: [calls.map((c) => c.id), calls.map((c) => c.tokenHash), timeoutSeconds, ackSeconds],
  });
  const first = rows[0]!;
  const live = new Map<string, SessionOrder>();
  for (const r of rows) {
    // closed by this very statement (its order overdue): not live, answered as a session closed by force is
    if (r.id && r.token_hash && !r.closed_at) live.set(heartbeatKey(r.id, r.token_hash), { closeRequestedAt: r.close_requested_at, closeBy: r.close_by });
  }
  return { now: first.now, window: toWindow(first), live };
}
