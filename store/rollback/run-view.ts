import type { Queryable } from '../queryable';

/** One rollback run as `patch status --rollback N` shows it; undefined: no such run. */
export interface RollbackRunView {
  id: number;
  workflowId: string;
  state: string;
  patchRun: number | null;
  failedOnly: boolean;
  requested: string[] | null;
  retryOf: number | null;
  windowWorkflowId: string | null;
  error: string | null;
  notes: string[];
  startedAt: Date;
  finishedAt: Date | null;
}

export async function rollbackRunView(db: Queryable, id: number): Promise<RollbackRunView | undefined> {
  const { rows } = await db.query(
    `SELECT id, workflow_id, state, patch_run, failed_only, requested, retry_of, window_workflow, error, notes, started_at, finished_at
       FROM nightshift.patch_rollback_run WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    workflowId: r.workflow_id,
    state: r.state,
    patchRun: r.patch_run === null ? null : Number(r.patch_run),
    failedOnly: Boolean(r.failed_only),
    requested: r.requested,
    retryOf: r.retry_of === null ? null : Number(r.retry_of),
    windowWorkflowId: r.window_workflow,
    error: r.error,
    notes: r.notes ?? [],
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}
