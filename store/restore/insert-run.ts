import type { Prerequisite } from '../../workflows/fan-out.api';
import type { Queryable } from '../queryable';

export interface NewRestoreRun {
  workflowId: string;
  at: Date;
  kind: string | null;
  replace: boolean;
  source: 'auto' | 'local' | 'offsite';
  /** --codes; undefined: --all or a retry */
  codes?: string[];
  retryOf?: number;
  prerequisites: Prerequisite[];
  /** null: running; otherwise the run is recorded failed at once (refused) */
  error: string | null;
}

/** The restore run's row: running, or failed at once when refused. Returns its id. */
export async function insertRestoreRun(db: Queryable, r: NewRestoreRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.restore_run (workflow_id, state, restore_at, kind, replace, source, requested, retry_of, prerequisites, error, finished_at)
     VALUES ($1, CASE WHEN $9::text IS NULL THEN 'running' ELSE 'failed' END, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $9::text IS NULL THEN NULL ELSE now() END)
     RETURNING id`,
    [r.workflowId, r.at, r.kind, r.replace, r.source, r.codes ?? null, r.retryOf ?? null, JSON.stringify(r.prerequisites), r.error],
  );
  return Number(rows[0]!.id);
}
