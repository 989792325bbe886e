import type { Queryable } from '../queryable';

/** One restore run as `backup restore --run N` shows it and `--retry N` repeats it; undefined: no such run. */
export interface RestoreRunView {
  id: number;
  workflowId: string;
  state: string;
  at: Date;
  kind: string | null;
  replace: boolean;
  source: 'auto' | 'local' | 'offsite';
  requested: string[] | null;
  retryOf: number | null;
  error: string | null;
  notes: string[];
  startedAt: Date;
  finishedAt: Date | null;
}

export async function restoreRunView(db: Queryable, id: number): Promise<RestoreRunView | undefined> {
  const { rows } = await db.query(
    `SELECT id, workflow_id, state, restore_at, kind, replace, source, requested, retry_of, error, notes, started_at, finished_at FROM nightshift.restore_run WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    workflowId: r.workflow_id,
    state: r.state,
    at: r.restore_at,
    kind: r.kind,
    replace: Boolean(r.replace),
    source: r.source,
    requested: r.requested,
    retryOf: r.retry_of === null ? null : Number(r.retry_of),
    error: r.error,
    notes: r.notes ?? [],
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}
