import type { Queryable } from '../queryable';

/**
 * The other generation of a dossier (kept or pruned) taken at this snapshot time: whose archive a file whose header
 * says that time is. Undefined when none (a file can also have been taken before the catalog's times were set).
 */
export async function otherGenerationAt(db: Queryable, code: string, snapshotAt: string, notId: number): Promise<{ id: number; deleted: boolean } | undefined> {
  const { rows } = await db.query<{ id: string; deleted: boolean }>(
    `SELECT id, deleted_at IS NOT NULL AS deleted FROM nightshift.backup_generation
      WHERE code = $1 AND snapshot_at = $2::timestamptz AND id <> $3
      ORDER BY id DESC LIMIT 1`,
    [code, snapshotAt, notId],
  );
  return rows[0] && { id: Number(rows[0].id), deleted: rows[0].deleted };
}
