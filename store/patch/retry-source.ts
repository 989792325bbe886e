import type { Queryable } from '../queryable';

/**
 * The run a retry takes its failed dossiers from: `retryOf`, else the last finished run (other than
 * `runId`, the retry itself) that has failed dossiers. Undefined when there is none.
 */
export async function retrySourceRun(db: Queryable, runId: number, retryOf?: number): Promise<{ id: number; last_patch: number | null } | undefined> {
  const { rows } = await db.query<{ id: string; last_patch: number | null }>(
    retryOf
      ? 'SELECT id, last_patch FROM nightshift.patch_run WHERE id = $1'
      : `SELECT r.id, r.last_patch FROM nightshift.patch_run r WHERE r.id <> $1 AND r.state <> 'running'
                   AND EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') ORDER BY r.id DESC LIMIT 1`,
    [retryOf ?? runId],
  );
  return rows[0] && { id: Number(rows[0].id), last_patch: rows[0].last_patch };
}

/**
 * What `patch retry` would take, read before it starts: the source run (as above), its state and its failed
 * dossiers' count. Undefined when there is none.
 */
export async function retryPreview(db: Queryable, retryOf?: number): Promise<{ id: number; state: string; failed: number } | undefined> {
  const run = await retrySourceRun(db, 0, retryOf);
  if (!run) return undefined;
  const { rows } = await db.query<{ state: string; failed: number }>(
    `SELECT r.state, (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') AS failed
       FROM nightshift.patch_run r WHERE r.id = $1`,
    [run.id],
  );
  return { id: run.id, state: rows[0]!.state, failed: rows[0]!.failed };
}
