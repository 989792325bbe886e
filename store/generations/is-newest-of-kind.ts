import type { Queryable } from '../queryable';

/**
 * Of these generations, the kept ones that are their dossier's newest of their kind (the one B{code}.SVG of its folder
 * names): one statement for a verify chunk's generations, each probed by the code+kind index.
 */
export async function newestOfKindAmong(db: Queryable, ids: number[]): Promise<Set<number>> {
  if (!ids.length) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT g.id FROM nightshift.backup_generation g
      WHERE g.id = ANY ($1::bigint[]) AND g.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = g.code AND n.kind = g.kind AND n.deleted_at IS NULL
                           AND (n.snapshot_at, n.id) > (g.snapshot_at, g.id))`,
    [ids],
  );
  return new Set(rows.map((r) => Number(r.id)));
}
