/** SQL text shared by several gate statements (issue 11: gate modules hold no SQL). */

/** A session is live while not closed and not expired, on the database clock (R-SE-1). */
export const LIVE_SESSION_SQL = 'closed_at IS NULL AND expires_at > now()';

/** An active window is scheduled or in progress: the unique index of R-MW-2 allows at most one. */
export const ACTIVE_WINDOW_WHERE = "state IN ('scheduled', 'in_progress')";

/** Only scheduled / in-progress rows are read: the unique index of R-MW-2 allows at most one. */
export const ACTIVE_WINDOW_SQL = `SELECT type, state, starts_at, ends_at, prevent_logins_from, message
   FROM nightshift.maintenance_window WHERE ${ACTIVE_WINDOW_WHERE} LIMIT 1`;

/**
 * An active window row closes the target to users (R-MW-7: sessions are told to close) once it is in progress
 * or its start has come, on the database clock: domain/maintenance gateStateAt's 'closed'. Over any row with
 * the window's `state` and `starts_at` (the table, or a statement's copy of the active row).
 */
export const WINDOW_CLOSES_TARGET_WHERE = "(state = 'in_progress' OR now() >= starts_at)";

/** The target is closed to users: its active window closes it (WINDOW_CLOSES_TARGET_WHERE). */
export const TARGET_CLOSED_SQL = `EXISTS (SELECT 1 FROM nightshift.maintenance_window
                                   WHERE ${ACTIVE_WINDOW_WHERE} AND ${WINDOW_CLOSES_TARGET_WHERE})`;
