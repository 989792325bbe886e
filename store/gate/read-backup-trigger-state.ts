import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from './sql-parts';

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
export async function readBackupTriggerState(db: Queryable, code: string, session?: { id: string; tokenHash: string }): Promise<BackupTriggerState> {
  const { rows } = await db.query<{ sessions: number; dossier: boolean; in_use: number; held: boolean; settings: Record<string, unknown> }>(
    `WITH s AS (SELECT id FROM nightshift.session WHERE id = $2::uuid AND token_hash = $3 AND ${LIVE_SESSION_SQL})
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
