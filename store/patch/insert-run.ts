import type { PatchRunMode, Prerequisite } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

export interface NewRun {
  workflowId: string;
  mode: PatchRunMode;
  retryOf?: number;
  /** false: the run is recorded as failed at once, with `error` */
  ok: boolean;
  windowWorkflowId?: string;
  dir?: string;
  dossiers?: string[];
  prerequisites: Prerequisite[];
  error: string | null;
}

/** The run's row: running, or failed at once when its prerequisites are not met (R-PI-2). Returns its id. */
export async function insertRun(db: Queryable, r: NewRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.patch_run (workflow_id, mode, retry_of, state, window_workflow, source_dir, requested, prerequisites, error, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $4 = 'failed' THEN now() END) RETURNING id`,
    [r.workflowId, r.mode, r.retryOf ?? null, r.ok ? 'running' : 'failed', r.windowWorkflowId ?? null, r.dir ?? null, r.dossiers ?? null, JSON.stringify(r.prerequisites), r.error],
  );
  return Number(rows[0]!.id);
}
