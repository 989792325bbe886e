import type { PatchRunState } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

/**
 * Closes a running run in its final state (a run already closed, e.g. as abandoned, is left as it is); `notStarted`:
 * the dossiers it did not start, --max-failures having stopped it (null: not stopped).
 */
export async function closeRun(db: Queryable, runId: number, state: PatchRunState, error: string | null, notes: string[], notStarted: number | null): Promise<void> {
  await db.query(
    `UPDATE nightshift.patch_run SET state = $2, error = coalesce($3, error), notes = $4, not_started = $5, finished_at = now(), updated_at = now()
      WHERE id = $1 AND state = 'running'`,
    [runId, state, error, notes, notStarted],
  );
}
