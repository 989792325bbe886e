import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from './sql-parts';

export type DossierOutcome = 'no-session' | 'no-dossier' | 'done';

/** 'done' when the session held the dossier open (and now no longer does), 'not-held' when it did not hold it. */
export async function closeDossier(db: Queryable, id: string, tokenHash: string, code: string): Promise<DossierOutcome | 'not-held'> {
  const { rows } = await db.query<{ sessions: number; dossiers: number; n: number }>(
    `WITH s AS (SELECT id FROM nightshift.session WHERE id = $1 AND token_hash = $2 AND ${LIVE_SESSION_SQL}),
          d AS (SELECT code FROM nightshift.dossier WHERE code = $3),
          del AS (DELETE FROM nightshift.session_dossier sd USING s WHERE sd.session_id = s.id AND sd.dossier_code = $3 RETURNING 1)
     SELECT (SELECT count(*) FROM s)::int AS sessions, (SELECT count(*) FROM d)::int AS dossiers, (SELECT count(*) FROM del)::int AS n`,
    [id, tokenHash, code],
  );
  const done = outcome(rows[0]!);
  return done === 'done' && rows[0]!.n === 0 ? 'not-held' : done;
}

function outcome(r: { sessions: number; dossiers: number }): DossierOutcome {
  if (r.sessions === 0) return 'no-session';
  return r.dossiers === 0 ? 'no-dossier' : 'done';
}
