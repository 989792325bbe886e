import type { DossierPatchOutcome } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

/**
 * Records a dossier's outcome in the run's ledger, merged with what earlier attempts recorded (lowest
 * from-level, every applied patch, notes once each). Only while the run is running: false when it was
 * closed (a run closed as abandoned takes no late result). With it, the dossier's change counter as the
 * patch left it (R-PI-11: a rollback says whether the dossier was written to since).
 */
export async function recordItem(db: Queryable, runId: number, outcome: DossierPatchOutcome): Promise<boolean> {
  const recorded = await db.query(
    `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, applied, failed_patch, failure_type, error, notes, change_seq_after)
             SELECT r.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, (SELECT d.change_seq FROM nightshift.dossier d WHERE d.code = $2)
               FROM nightshift.patch_run r WHERE r.id = $1 AND r.state = 'running'
             ON CONFLICT (run_id, code) DO UPDATE SET status = EXCLUDED.status, to_level = EXCLUDED.to_level,
               from_level = LEAST(patch_run_item.from_level, EXCLUDED.from_level),
               applied = ARRAY(SELECT DISTINCT unnest(patch_run_item.applied || EXCLUDED.applied) ORDER BY 1),
               failed_patch = EXCLUDED.failed_patch, failure_type = EXCLUDED.failure_type, error = EXCLUDED.error, finished_at = now(),
               change_seq_after = EXCLUDED.change_seq_after,
               notes = ARRAY(SELECT n FROM unnest(patch_run_item.notes || EXCLUDED.notes) WITH ORDINALITY AS u(n, i) GROUP BY n ORDER BY min(i))
             RETURNING 1`,
    [
      runId,
      outcome.code,
      outcome.status,
      outcome.fromLevel,
      outcome.toLevel,
      outcome.applied,
      outcome.failedPatch ?? null,
      outcome.failureType ?? null,
      outcome.error ?? null,
      outcome.notes ?? [],
    ],
  );
  return Boolean(recorded.rowCount);
}
