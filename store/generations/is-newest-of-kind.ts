import type { Queryable } from '../queryable';

/** Whether this kept generation is its dossier's newest of its kind (the one B{code}.SVG of its folder names). */
export async function isNewestOfKind(db: Queryable, id: number): Promise<boolean> {
  const { rows } = await db.query<{ newest: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = g.code AND n.kind = g.kind AND n.deleted_at IS NULL
                           AND (n.snapshot_at, n.id) > (g.snapshot_at, g.id)) AS newest
       FROM nightshift.backup_generation g WHERE g.id = $1 AND g.deleted_at IS NULL`,
    [id],
  );
  return rows[0]?.newest ?? false;
}
