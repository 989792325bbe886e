import type { Queryable } from '../queryable';

export interface LedgerRun {
  kind: 'backup' | 'patch' | 'rollback';
  /** bigint, as text */
  id: string;
  workflowId: string;
  state: string;
  /** partial or failed: its dossiers not done (failed, in use, not reached); else null */
  notDone: number | null;
  /** a patch run --max-failures stopped: its dossiers it did not start (not among notDone); else null */
  notStarted: number | null;
}

/**
 * Backup batches, patch runs and rollback runs claimed while the window was open, from its row's creation to its end (or
 * now, for one not ended), oldest first, with their start (the window links them, issue 12; a rollback changes dossiers
 * as a patch run does; `maintenance show` lists a past window's). Both instants are the database's: no skew with the
 * workflow's clock.
 */
export async function windowRuns(db: Queryable, windowId: string, limit = 20, o: { /** false: every run since its creation, also after its end */ untilItsEnd?: boolean } = {}): Promise<(LedgerRun & { startedAt: Date })[]> {
  const r = await db.query<LedgerRun & { startedAt: Date }>(
    `WITH w AS (SELECT created_at, coalesce(finished_at, now()) AS until FROM nightshift.maintenance_window WHERE id = $1)
     SELECT kind, id, "workflowId", state, "notDone", "notStarted", started_at AS "startedAt" FROM (
       SELECT 'backup' AS kind, r.id::text AS id, r.workflow_id AS "workflowId", r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.backup_run_item i WHERE i.run_id = r.id AND i.status <> 'ok') END AS "notDone",
              NULL::int AS "notStarted"
         FROM nightshift.backup_run r, w WHERE r.started_at >= w.created_at AND ($3::boolean IS FALSE OR r.started_at <= w.until)
       UNION ALL
       SELECT 'patch', r.id::text, r.workflow_id, r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status <> 'ok') END,
              r.not_started
         FROM nightshift.patch_run r, w WHERE r.started_at >= w.created_at AND ($3::boolean IS FALSE OR r.started_at <= w.until)
       UNION ALL
       SELECT 'rollback', r.id::text, r.workflow_id, r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.patch_rollback_item i WHERE i.run_id = r.id AND i.status <> 'ok') END,
              NULL
         FROM nightshift.patch_rollback_run r, w WHERE r.started_at >= w.created_at AND ($3::boolean IS FALSE OR r.started_at <= w.until)
     ) runs ORDER BY started_at, kind LIMIT $2`,
    [windowId, limit, o.untilItsEnd ?? true],
  );
  return r.rows;
}

/** Every run since the window's row was written, without their start: the window's own links (its workflow's history keeps these). */
export async function runsSinceWindow(db: Queryable, windowId: string, limit = 20): Promise<LedgerRun[]> {
  return (await windowRuns(db, windowId, limit, { untilItsEnd: false })).map(({ startedAt: _startedAt, ...run }) => run);
}
