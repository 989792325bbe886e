import { abandonedNote } from '../../domain/failures';
import type { Queryable } from '../queryable';

/**
 * Closes a patch run left 'running' by a workflow that Temporal says is closed, as failed (R-PI-2 would
 * refuse every later run), and in the same statement its dossiers begun and never finished ('pending'): failed,
 * `NotDone`, at the level they reached, so that `patch retry` takes them and `patch status --run` lists them.
 * Levels climb one recorded patch at a time and no other run moves a dossier while this one is 'running' (R-PI-2):
 * the patches in (from_level, level now] are the run's. Null when the run was no longer 'running' (it ended, or
 * another caller closed it first); else how many dossiers it left not done, and of them how many the ledger shows begun.
 * A chunk opens a pending row for each of its dossiers before patching them one after another (tester B: 28 said "begun",
 * 2 in flight): `begun` counts those with a patch applied since (level above from_level) or a restore point begun; one
 * whose first patch was cut off mid-transaction left no trace and is not among them. The CLI and the run's claim both
 * close runs through this one statement.
 */
export async function closeAbandonedRun(db: Queryable, id: string, workflowStatus: string): Promise<{ notDone: number; begun: number } | null> {
  const why = abandonedNote(workflowStatus);
  const { rows } = await db.query<{ closed: boolean; not_done: number; begun: number }>(
    `WITH closed AS (
       UPDATE nightshift.patch_run SET state = 'failed', error = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id
     ), reached AS (
       SELECT i.run_id, i.code, coalesce(d.patch_level, i.from_level) AS level
         FROM closed c JOIN nightshift.patch_run_item i ON i.run_id = c.id AND i.status = 'pending'
         LEFT JOIN nightshift.dossier d ON d.code = i.code
     ), not_done AS (
       UPDATE nightshift.patch_run_item i
          SET status = 'failed', failure_type = 'NotDone', error = $3, to_level = r.level,
              applied = ARRAY(SELECT generate_series(i.from_level + 1, r.level)), finished_at = now()
         FROM reached r WHERE i.run_id = r.run_id AND i.code = r.code AND i.status = 'pending'
       RETURNING (r.level > i.from_level OR i.restore_point_state IS NOT NULL) AS begun
     )
     SELECT EXISTS (SELECT 1 FROM closed) AS closed, (SELECT count(*)::int FROM not_done) AS not_done,
            (SELECT count(*)::int FROM not_done WHERE begun) AS begun`,
    [id, why, `not finished: the run was ${why}`],
  );
  return rows[0]!.closed ? { notDone: rows[0]!.not_done, begun: rows[0]!.begun } : null;
}
