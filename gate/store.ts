import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { ACTIVE_WINDOW_SQL, toWindow, type ActiveWindow, type WindowRow } from './notices';

/**
 * The gate's SQL, one statement per operation where possible. State lives only in the target database
 * (several gate processes may serve one target) and every decision uses the database clock (now()), so
 * that all gates and the workflow's activities agree on "live" (closed_at IS NULL AND expires_at > now()).
 *
 * Tokens: only their SHA-256 is stored. Operations match `token_hash = $2` in SQL: the client controls
 * only the preimage, so comparing digests leaks nothing useful; the miss path (401 or 404?) compares in
 * constant time (findSession + tokenMatches).
 */

const LIVE = 'closed_at IS NULL AND expires_at > now()';

export function newToken(): { token: string; tokenHash: string } {
  const token = crypto.randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenMatches(tokenHash: string, storedHash: string): boolean {
  const a = Buffer.from(tokenHash, 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export interface TargetStatus {
  now: Date;
  window?: ActiveWindow;
  openSessions: number;
}

/** R-SE-3: live sessions, with the active window. */
export async function readStatus(pool: pg.Pool): Promise<TargetStatus> {
  const { rows } = await pool.query<WindowRow & { now: Date; open_sessions: number }>(
    `SELECT now() AS now, w.*,
            (SELECT count(*)::int FROM nightshift.session WHERE ${LIVE}) AS open_sessions
       FROM (VALUES (1)) AS one(x) LEFT JOIN (${ACTIVE_WINDOW_SQL}) w ON true`,
  );
  const row = rows[0]!;
  return { now: row.now, window: toWindow(row), openSessions: row.open_sessions };
}

export interface HeartbeatRow {
  now: Date;
  window?: ActiveWindow;
  closeRequestedAt: Date | null;
  closeBy: Date | null;
}

/**
 * Keeps a live session alive and reads its close order (and, without a window cache, the active
 * window), in one UPDATE. Its commit does not wait for the WAL flush (synchronous_commit off for this
 * transaction only): a heartbeat lost in a database crash only shortens a session by one interval, and
 * not waiting for the disk about doubles the heartbeats a target absorbs. Logins, orders and closes
 * stay synchronous.
 */
export async function heartbeat(
  pool: pg.Pool,
  id: string,
  tokenHash: string,
  timeoutSeconds: number,
  windows?: WindowCache,
): Promise<HeartbeatRow | undefined> {
  if (windows) {
    const [{ rows }, window] = await Promise.all([
      pool.query<{ now: Date; close_requested_at: Date | null; close_by: Date | null }>(
        `UPDATE nightshift.session s
            SET last_seen_at = now(), expires_at = now() + make_interval(secs => $3::float8)
           FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit(x)
          WHERE s.id = $1 AND s.token_hash = $2 AND s.closed_at IS NULL AND s.expires_at > now()
         RETURNING now() AS now, s.close_requested_at, s.close_by`,
        [id, tokenHash, timeoutSeconds],
      ),
      windows.get(pool),
    ]);
    const row = rows[0];
    return row ? { now: row.now, window, closeRequestedAt: row.close_requested_at, closeBy: row.close_by } : undefined;
  }
  const { rows } = await pool.query<WindowRow & { now: Date; close_requested_at: Date | null; close_by: Date | null }>(
    `WITH w AS (${ACTIVE_WINDOW_SQL})
     UPDATE nightshift.session s
        SET last_seen_at = now(), expires_at = now() + make_interval(secs => $3::float8)
       FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit(x) LEFT JOIN w ON true
      WHERE s.id = $1 AND s.token_hash = $2 AND s.closed_at IS NULL AND s.expires_at > now()
     RETURNING now() AS now, s.close_requested_at, s.close_by,
               w.type, w.state, w.starts_at, w.ends_at, w.prevent_logins_from, w.message`,
    [id, tokenHash, timeoutSeconds],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { now: row.now, window: toWindow(row), closeRequestedAt: row.close_requested_at, closeBy: row.close_by };
}

/**
 * The active window row of each target, re-read at most every ttlMs (one read shared by concurrent
 * heartbeats). Only heartbeats use it: the clock still decides (a cached scheduled window turns
 * 'closed' at its start instant, compared with the database's now()), so a cache only delays seeing a
 * row change (new window, edit, completion) by ttlMs. Logins and status always read the table.
 */
export class WindowCache {
  private readonly entries = new Map<pg.Pool, { at: number; value: Promise<ActiveWindow | undefined> }>();

  constructor(private readonly ttlMs: number) {}

  get(pool: pg.Pool): Promise<ActiveWindow | undefined> {
    const now = performance.now();
    const hit = this.entries.get(pool);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = pool.query<WindowRow>(ACTIVE_WINDOW_SQL).then((r) => toWindow(r.rows[0]));
    // a failed read is not cached
    value.catch(() => this.entries.delete(pool));
    this.entries.set(pool, { at: now, value });
    return value;
  }
}

/**
 * R-MW-7 from the gate's side: the same idempotent order the workflow gives at start. When another gate
 * or the workflow ordered first, their close_by stands.
 */
export async function orderClose(pool: pg.Pool, id: string, ackSeconds: number): Promise<Date | undefined> {
  const ordered = await pool.query<{ close_by: Date }>(
    `UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + make_interval(secs => $2::float8)
      WHERE id = $1 AND ${LIVE} AND close_requested_at IS NULL
     RETURNING close_by`,
    [id, ackSeconds],
  );
  if (ordered.rows[0]) return ordered.rows[0].close_by;
  const existing = await pool.query<{ close_by: Date | null }>('SELECT close_by FROM nightshift.session WHERE id = $1', [id]);
  return existing.rows[0]?.close_by ?? undefined;
}

/** Logout; after a close order it is the acknowledgement (R-MW-7). */
/** Closes the session; also says which dossiers it held open (leaving them is an exit, R-BK-9). */
export async function logout(pool: pg.Pool, id: string, tokenHash: string): Promise<{ reason: 'logout' | 'acknowledged'; held: string[] } | undefined> {
  const { rows } = await pool.query<{ close_reason: 'logout' | 'acknowledged'; held: string[] }>(
    `UPDATE nightshift.session
        SET closed_at = now(), close_reason = CASE WHEN close_requested_at IS NULL THEN 'logout' ELSE 'acknowledged' END
      WHERE id = $1 AND token_hash = $2 AND ${LIVE}
     RETURNING close_reason, ARRAY(SELECT dossier_code FROM nightshift.session_dossier WHERE session_id = $1 ORDER BY dossier_code) AS held`,
    [id, tokenHash],
  );
  return rows[0] && { reason: rows[0].close_reason, held: rows[0].held };
}

export type DossierOutcome = 'no-session' | 'no-dossier' | 'done';

/** 'done' when the session held the dossier open (and now no longer does), 'not-held' when it did not hold it. */
export async function closeDossier(pool: pg.Pool, id: string, tokenHash: string, code: string): Promise<DossierOutcome | 'not-held'> {
  const { rows } = await pool.query<{ sessions: number; dossiers: number; n: number }>(
    `WITH s AS (SELECT id FROM nightshift.session WHERE id = $1 AND token_hash = $2 AND ${LIVE}),
          d AS (SELECT code FROM nightshift.dossier WHERE code = $3),
          del AS (DELETE FROM nightshift.session_dossier sd USING s WHERE sd.session_id = s.id AND sd.dossier_code = $3 RETURNING 1)
     SELECT (SELECT count(*) FROM s)::int AS sessions, (SELECT count(*) FROM d)::int AS dossiers, (SELECT count(*) FROM del)::int AS n`,
    [id, tokenHash, code],
  );
  const done = outcome(rows[0]!);
  return done === 'done' && rows[0]!.n === 0 ? 'not-held' : done;
}

export interface BackupTriggerState {
  /** the session (when one was given) is live and its token matches */
  session: boolean;
  dossier: boolean;
  /** live sessions holding the dossier open (R-BK-3) */
  inUse: number;
  heldBySession: boolean;
  /** the common R-BK-9 values (nightshift.backup_setting), unvalidated */
  commonSettings: Record<string, unknown>;
}

/**
 * R-BK-9 / R-BK-3 before a single-dossier backup on an event: the dossier, who holds it open and the
 * common settings, on one snapshot. Read after a close has committed, it no longer counts that session.
 */
export async function readBackupTriggerState(pool: pg.Pool, code: string, session?: { id: string; tokenHash: string }): Promise<BackupTriggerState> {
  const { rows } = await pool.query<{ sessions: number; dossier: boolean; in_use: number; held: boolean; settings: Record<string, unknown> }>(
    `WITH s AS (SELECT id FROM nightshift.session WHERE id = $2::uuid AND token_hash = $3 AND ${LIVE})
     SELECT (SELECT count(*) FROM s)::int AS sessions,
            EXISTS (SELECT 1 FROM nightshift.dossier WHERE code = $1) AS dossier,
            (SELECT count(DISTINCT session_id) FROM nightshift.dossier_in_use WHERE dossier_code = $1)::int AS in_use,
            EXISTS (SELECT 1 FROM nightshift.dossier_in_use u JOIN s ON s.id = u.session_id WHERE u.dossier_code = $1) AS held,
            (SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb) FROM nightshift.backup_setting) AS settings`,
    [code, session?.id ?? null, session?.tokenHash ?? null],
  );
  const r = rows[0]!;
  return { session: r.sessions > 0, dossier: r.dossier, inUse: r.in_use, heldBySession: r.held, commonSettings: r.settings };
}

function outcome(r: { sessions: number; dossiers: number }): DossierOutcome {
  if (r.sessions === 0) return 'no-session';
  return r.dossiers === 0 ? 'no-dossier' : 'done';
}

/** For the miss path only: does the id exist, is it live, and (in constant time) does the token match? */
export async function findSession(pool: pg.Pool, id: string): Promise<{ tokenHash: string; live: boolean } | undefined> {
  const { rows } = await pool.query<{ token_hash: string; live: boolean }>(
    `SELECT token_hash, (${LIVE}) AS live FROM nightshift.session WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  return row ? { tokenHash: row.token_hash, live: row.live } : undefined;
}

/** Marks sessions that stopped heartbeating as closed ('expired'), at the instant they expired. */
export async function sweepExpiredSessions(pool: pg.Pool): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE nightshift.session SET closed_at = expires_at, close_reason = 'expired'
      WHERE closed_at IS NULL AND expires_at <= now()`,
  );
  return rowCount ?? 0;
}

/** The bench's baseline: the cheapest round trip to the target. */
export async function ping(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}
