import type { Queryable } from '../queryable';

/**
 * Of these dossiers, those whose newest kept 'normal' generation this verify run found missing with `errorEnd`
 * (its off-site copy read back whole): the batch takes them again (store/backup/selection-sql.ts UNREADABLE_NEWEST_SQL),
 * a new backup puts a local archive back. An older generation's file is put back by nothing.
 */
export async function verifyNewestMissingCodes(db: Queryable, runId: number, codes: string[], errorEnd: string): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT DISTINCT i.code FROM nightshift.verify_run_item i
       JOIN nightshift.backup_generation g ON g.id = i.generation_id
      WHERE i.run_id = $1 AND i.code = ANY ($2::text[]) AND i.status = 'missing' AND right(i.error, length($3)) = $3
        AND g.kind = 'normal' AND g.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = g.code AND n.kind = 'normal' AND n.deleted_at IS NULL AND n.snapshot_at > g.snapshot_at)
      ORDER BY i.code`,
    [runId, codes, errorEnd],
  );
  return rows.map((r) => r.code);
}
