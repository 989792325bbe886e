import type { Queryable } from '../queryable';

/** Up to `limit` codes of dossiers that have kept generations, in code order after `after` (the prune's pages, R-BK-11). */
export async function pruneDossierPage(db: Queryable, after: string, limit: number): Promise<string[]> {
  // a loose index scan over (code, ...) WHERE deleted_at IS NULL: one probe per dossier, never every generation
  const { rows } = await db.query<{ code: string }>(
    `WITH RECURSIVE codes(code, n) AS (
       (SELECT code, 1 FROM nightshift.backup_generation WHERE deleted_at IS NULL AND code > $1 ORDER BY code LIMIT 1)
       UNION ALL
       SELECT (SELECT g.code FROM nightshift.backup_generation g WHERE g.deleted_at IS NULL AND g.code > c.code ORDER BY g.code LIMIT 1), c.n + 1
         FROM codes c WHERE c.code IS NOT NULL AND c.n < $2
     )
     SELECT code FROM codes WHERE code IS NOT NULL`,
    [after, limit],
  );
  return rows.map((r) => r.code);
}
