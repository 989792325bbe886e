import type { Queryable } from '../queryable';

/** A rollback run as `patch rollback --retry` sees it: its state and how many of its dossiers failed; undefined: no such run. */
export async function rollbackRunState(db: Queryable, id: number): Promise<{ state: string; failed: number } | undefined> {
  const { rows } = await db.query<{ state: string; failed: number }>(
    `SELECT r.state, (SELECT count(*) FROM nightshift.patch_rollback_item i WHERE i.run_id = r.id AND i.status = 'failed')::int AS failed
       FROM nightshift.patch_rollback_run r WHERE r.id = $1`,
    [id],
  );
  return rows[0];
}
