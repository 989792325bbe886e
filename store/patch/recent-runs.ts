import type { Queryable } from '../queryable';

/** A patch run as `patch status` shows it (field names as in its JSON output). */
export interface RecentRun {
  id: number;
  workflow_id: string;
  mode: string;
  state: string;
  first_patch: number | null;
  last_patch: number | null;
  error: string | null;
  /** how many of its dossiers failed */
  failed: number;
}

/** The last five patch runs, newest first, each with its count of failed dossiers. */
export async function listRecentRuns(db: Queryable): Promise<RecentRun[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string; mode: string; state: string; first_patch: number | null; last_patch: number | null; error: string | null; failed: string }>(
    `SELECT r.id, r.workflow_id, r.mode, r.state, r.first_patch, r.last_patch, r.error,
                      (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') AS failed
                 FROM nightshift.patch_run r ORDER BY r.id DESC LIMIT 5`,
  );
  return rows.map((r) => ({ ...r, id: Number(r.id), failed: Number(r.failed) }));
}
