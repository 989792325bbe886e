import type { Queryable } from '../queryable';

/**
 * A patch run that stopped at its supervisor (its failure ended the run before any other dossier, R-PI-4): its only
 * item is the supervisor's, failed. Returns the dossiers the operator had named for it (null: every dossier), so
 * that its retry goes on to them once the supervisor is through; undefined for any other run.
 */
export async function stoppedAtSupervisor(db: Queryable, runId: number): Promise<{ requested: string[] | null } | undefined> {
  const { rows } = await db.query<{ requested: string[] | null }>(
    `SELECT r.requested FROM nightshift.patch_run r
      WHERE r.id = $1 AND r.supervisor IS NOT NULL
        AND EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.code = r.supervisor AND i.status = 'failed')
        AND NOT EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.code <> r.supervisor)`,
    [runId],
  );
  return rows[0] && { requested: rows[0].requested };
}

/** A retry of a run stopped at its supervisor takes the dossiers that run was given (the `list` selection reads them here). */
export async function setRunRequested(db: Queryable, runId: number, codes: string[]): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET requested = $2 WHERE id = $1', [runId, codes]);
}
