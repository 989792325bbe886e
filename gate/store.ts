import crypto from 'node:crypto';
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
