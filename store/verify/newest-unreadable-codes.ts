import type { Queryable } from '../queryable';

/**
 * Of these dossiers, those whose newest kept 'normal' generation this verify run found at fault itself (corrupt,
 * missing, not restorable): a new backup puts a sound newest archive back (the batch takes them again, R-BK-13). A
 * problem of an older generation only is a point in time lost: no backup brings it back.
 */
export async function verifyNewestUnreadableCodes(db: Queryable, runId: number, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT DISTINCT i.code FROM nightshift.verify_run_item i
       JOIN nightshift.backup_generation g ON g.id = i.generation_id
      WHERE i.run_id = $1 AND i.code = ANY ($2::text[]) AND i.status IN ('corrupt', 'missing', 'failed')
        AND g.kind = 'normal' AND g.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = g.code AND n.kind = 'normal' AND n.deleted_at IS NULL AND n.snapshot_at > g.snapshot_at)
      ORDER BY i.code`,
    [runId, codes],
  );
  return rows.map((r) => r.code);
}
