import crypto from 'node:crypto';
import { toWindow, type ActiveWindow, type WindowRow } from './active-window-row';
import type { Queryable } from '../queryable';
import { ACTIVE_WINDOW_SQL, LIVE_SESSION_SQL, WINDOW_CLOSES_TARGET_WHERE } from './sql-parts';

export interface OpenSessionInput {
  user: string;
  client?: string;
  /** SHA-256 of the session token the caller hands to the user (only the hash is stored) */
  tokenHash: string;
  timeoutSeconds: number;
  /** the gate key the login came with (R-SE-5: caps per key) */
  keyId: string;
  /** live sessions this key may hold; the login is refused at this count */
  maxSessionsPerKey: number;
}

export interface OpenSessionResult {
  now: Date;
  window?: ActiveWindow;
  /** absent when the login was refused (window or cap) */
  session?: { id: string; expiresAt: Date };
  /** live sessions of the key before this login */
  keySessions: number;
}

/**
 * A login (R-SE-1), in one statement: the window refusal (R-MW-5/6) is decided on the same snapshot and
 * clock as the insert, so no login slips in after the start instant. The predicate is
 * domain/maintenance.ts's loginsRefusedAt in SQL (the gate's tests check both agree for every state).
 * The per-key cap (R-SE-5) counts the key's live sessions on that snapshot: logins of one key racing at
 * the same instant may pass it by their number.
 */
export async function openSession(db: Queryable, input: OpenSessionInput): Promise<OpenSessionResult> {
  const id = crypto.randomUUID();
  const { rows } = await db.query<WindowRow & { now: Date; expires_at: Date | null; key_sessions: number }>(
    `WITH w AS (${ACTIVE_WINDOW_SQL}),
     k AS (SELECT count(*)::int AS n FROM nightshift.session
            WHERE key_id = $6 AND ${LIVE_SESSION_SQL}),
     ins AS (
       INSERT INTO nightshift.session (id, user_name, client, token_hash, expires_at, key_id)
       SELECT $1, $2, $3, $4, now() + make_interval(secs => $5::float8), $6
        WHERE NOT EXISTS (SELECT 1 FROM w WHERE ${WINDOW_CLOSES_TARGET_WHERE} OR now() >= w.prevent_logins_from)
          AND (SELECT n FROM k) < $7
       RETURNING expires_at)
     SELECT now() AS now, (SELECT expires_at FROM ins) AS expires_at, (SELECT n FROM k) AS key_sessions, w.*
       FROM (VALUES (1)) AS one(x) LEFT JOIN w ON true`,
    [id, input.user, input.client ?? null, input.tokenHash, input.timeoutSeconds, input.keyId, input.maxSessionsPerKey],
  );
  const row = rows[0]!;
  return {
    now: row.now,
    window: toWindow(row),
    session: row.expires_at ? { id, expiresAt: row.expires_at } : undefined,
    keySessions: row.key_sessions,
  };
}
