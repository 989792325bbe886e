import type { GenerationKind } from '../../domain/generation';
import type { Queryable } from '../queryable';

/**
 * Of these dossiers, those whose newest kept generation of a kind (normal, EchangePrest, Cloture) this verify run found
 * at fault itself (corrupt, missing, not restorable), with that kind. For 'normal', a new backup puts a sound newest
 * archive back (the batch takes them again, R-BK-13); for the other kinds the event's backup is taken on its own
 * (R-BK-9), and retention keeps that newest one (drill R2, session 36: it was told "older generations … retention prunes
 * them in time"). A problem of an older generation of its kind only is a point in time lost: no backup brings it back.
 */
export async function verifyNewestUnreadable(db: Queryable, runId: number, codes: string[]): Promise<{ code: string; kind: GenerationKind }[]> {
  const { rows } = await db.query<{ code: string; kind: GenerationKind }>(
    `SELECT DISTINCT i.code, g.kind FROM nightshift.verify_run_item i
       JOIN nightshift.backup_generation g ON g.id = i.generation_id
      WHERE i.run_id = $1 AND i.code = ANY ($2::text[]) AND i.status IN ('corrupt', 'missing', 'failed')
        AND g.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = g.code AND n.kind = g.kind AND n.deleted_at IS NULL AND n.snapshot_at > g.snapshot_at)
      ORDER BY i.code, g.kind`,
    [runId, codes],
  );
  return rows;
}
