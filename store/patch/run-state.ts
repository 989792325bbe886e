import type { Queryable } from '../queryable';

/** A run's workflow, state and error (why a late result is refused); undefined for an unknown run. */
export async function readRunState(db: Queryable, runId: number): Promise<{ workflow_id: string; state: string; error: string | null } | undefined> {
  const { rows } = await db.query<{ workflow_id: string; state: string; error: string | null }>('SELECT workflow_id, state, error FROM nightshift.patch_run WHERE id = $1', [runId]);
  return rows[0];
}
