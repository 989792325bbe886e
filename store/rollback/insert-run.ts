import type { Prerequisite } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

export interface NewRollbackRun {
  workflowId: string;
  patchRun?: number;
  failedOnly: boolean;
  dossiers?: string[];
  retryOf?: number;
  windowWorkflowId?: string;
  prerequisites: Prerequisite[];
  /** null: running; otherwise the run is recorded as failed at once (R-PI-2 refused) */
  error: string | null;
}

/** The rollback run's row: running, or failed at once when its prerequisites are not met. Returns its id. */
export async function insertRollbackRun(db: Queryable, r: NewRollbackRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.patch_rollback_run (workflow_id, state, patch_run, failed_only, requested, retry_of, window_workflow, prerequisites, error, finished_at)
     VALUES ($1, CASE WHEN $8::text IS NULL THEN 'running' ELSE 'failed' END, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::text IS NULL THEN NULL ELSE now() END)
     RETURNING id`,
    [r.workflowId, r.patchRun ?? null, r.failedOnly, r.dossiers ?? null, r.retryOf ?? null, r.windowWorkflowId ?? null, JSON.stringify(r.prerequisites), r.error],
  );
  return Number(rows[0]!.id);
}
