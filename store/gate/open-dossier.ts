import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from './sql-parts';

/** 'cap': the session already holds maxDossiers others open (R-SE-5); opening one it holds is 'done'. */
export type OpenDossierOutcome = 'no-session' | 'no-dossier' | 'cap' | 'done';

/**
 * R-SE-2: the session holds the dossier open, which makes it "in use" (nightshift.dossier_in_use, R-BK-3),
 * unless it already holds maxDossiers open (R-SE-5).
 */
export async function openDossier(db: Queryable, id: string, tokenHash: string, code: string, maxDossiers: number): Promise<OpenDossierOutcome> {
  try {
    const { rows } = await db.query<{ sessions: number; dossiers: number; held: number; already: boolean }>(
      `WITH s AS (SELECT id FROM nightshift.session WHERE id = $1 AND token_hash = $2 AND ${LIVE_SESSION_SQL}),
            d AS (SELECT code FROM nightshift.dossier WHERE code = $3),
            h AS (SELECT count(*)::int AS n, coalesce(bool_or(dossier_code = $3), false) AS already
                    FROM nightshift.session_dossier WHERE session_id = (SELECT id FROM s)),
            ins AS (INSERT INTO nightshift.session_dossier (session_id, dossier_code)
                    SELECT s.id, d.code FROM s, d, h WHERE NOT h.already AND h.n < $4
                    ON CONFLICT DO NOTHING RETURNING 1)
       SELECT (SELECT count(*) FROM s)::int AS sessions, (SELECT count(*) FROM d)::int AS dossiers, h.n AS held, h.already FROM h`,
      [id, tokenHash, code, maxDossiers],
    );
    const r = rows[0]!;
    if (r.sessions === 0) return 'no-session';
    if (r.dossiers === 0) return 'no-dossier';
    return r.already || r.held < maxDossiers ? 'done' : 'cap';
  } catch (err) {
    // the dossier was deleted between the read and the insert
    if ((err as { code?: string }).code === '23503') return 'no-dossier';
    throw err;
  }
}
