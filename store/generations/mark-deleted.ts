import type { Queryable } from '../queryable';

/**
 * Marks pruned generations deleted (R-BK-11), unless a reader took a lease on one meanwhile (an unexpired
 * lease wins: that generation is not deleted). Returns the ids actually marked; the caller deletes their files.
 */
export async function markGenerationsDeleted(db: Queryable, ids: number[], by: string): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE nightshift.backup_generation g SET deleted_at = now(), deleted_by = $2
      WHERE g.id = ANY($1::bigint[]) AND g.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation_lease l WHERE l.generation_id = g.id AND l.expires_at > now())
      RETURNING g.id`,
    [ids, by],
  );
  return rows.map((r) => Number(r.id));
}
