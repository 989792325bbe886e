import type { Queryable } from '../queryable';

/**
 * R-SE-5: deletes sessions closed (or expired) longer than retentionSeconds ago, at most `batch` of each
 * kind per call (their dossier rows go with them, ON DELETE CASCADE). Live sessions are never touched.
 */
export async function purgeSessions(db: Queryable, retentionSeconds: number, batch = 5000): Promise<number> {
  const { rowCount } = await db.query(
    `WITH doomed AS (
       (SELECT id FROM nightshift.session
         WHERE closed_at IS NOT NULL AND closed_at < now() - make_interval(secs => $1::float8) LIMIT $2)
       UNION
       (SELECT id FROM nightshift.session
         WHERE closed_at IS NULL AND expires_at < now() - make_interval(secs => $1::float8) LIMIT $2))
     DELETE FROM nightshift.session s USING doomed WHERE s.id = doomed.id`,
    [retentionSeconds, batch],
  );
  return rowCount ?? 0;
}
