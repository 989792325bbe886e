import type { GenerationKind } from '../../domain/generation';
import type { Queryable } from '../queryable';

export interface VerifyProblemStepRow {
  code: string;
  status: string;
  error: string | null;
  kind: GenerationKind;
  /** the generation is its dossier's newest kept one of its kind (a new backup of that kind replaces it) */
  newest: boolean;
}

/**
 * The first `limit` problems of a verify run, by dossier and date, each with its generation's kind and whether it is its
 * dossier's newest kept one of that kind: the next steps are decided per generation (a new backup mends only a newest
 * archive; an older one found at fault is a point in time lost, or read from its copy), not per dossier (tester,
 * 2026-12-08: an older generation's problem made its dossier "back up again", and left it out of "verify again").
 * Index backup_generation_kept (migration 0013).
 */
export async function verifyProblemStepRows(db: Queryable, runId: number, limit: number): Promise<VerifyProblemStepRow[]> {
  const { rows } = await db.query<VerifyProblemStepRow>(
    `SELECT i.code, i.status, i.error, g.kind,
            (g.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                WHERE n.code = g.code AND n.kind = g.kind AND n.deleted_at IS NULL AND n.snapshot_at > g.snapshot_at)) AS newest
       FROM nightshift.verify_run_item i
       JOIN nightshift.backup_generation g ON g.id = i.generation_id
      WHERE i.run_id = $1 AND i.status NOT IN ('ok', 'pruned')
      ORDER BY i.code, i.snapshot_at, i.seq
      LIMIT $2`,
    [runId, limit],
  );
  return rows;
}
