import type { Queryable } from '../queryable';

export interface RetryCandidate {
  code: string;
  status: string;
  /** still a dossier of the target (a deleted one is not retried) */
  registered: boolean;
  lastBackupAt: Date | null;
  /**
   * a backup taken after this run failed it (its snapshot is later), or a later run that did it (its off-site copy
   * caught up from the archive this run wrote, say), and no write to the dossier since that backup
   */
  backedUpSince: boolean;
  /** the later run that did it, when that is how it was done */
  doneByRun: number | null;
}

/** The dossiers a run did not back up, in code order, each with what `backup retry` needs to know of it since. */
export async function retryCandidates(db: Queryable, runId: string): Promise<RetryCandidate[]> {
  // a later run's ledger row: one primary-key probe per run since this one (a handful), never a scan by code
  const { rows } = await db.query<{
    code: string;
    status: string;
    finished_at: Date | null;
    registered: boolean;
    last_backup_at: Date | null;
    done_by: string | null;
    backed_up_since: boolean;
  }>(
    `SELECT c.*, coalesce((c.last_backup_at > c.finished_at OR c.done_by IS NOT NULL) AND c.unmodified, false) AS backed_up_since
       FROM (SELECT i.code, i.status, i.finished_at, d.code IS NOT NULL AS registered, d.last_backup_at, d.change_seq <= d.backup_seq AS unmodified,
                    (SELECT l.run_id FROM nightshift.backup_run r JOIN nightshift.backup_run_item l ON l.run_id = r.id AND l.code = i.code
                      WHERE r.id > i.run_id AND l.status = 'ok' ORDER BY l.run_id DESC LIMIT 1)::text AS done_by
               FROM nightshift.backup_run_item i LEFT JOIN nightshift.dossier d ON d.code = i.code
              WHERE i.run_id = $1 AND i.status <> 'ok') c
      ORDER BY c.code`,
    [runId],
  );
  return rows.map((r) => ({
    code: r.code,
    status: r.status,
    registered: r.registered,
    lastBackupAt: r.last_backup_at,
    backedUpSince: r.backed_up_since,
    // said by its run only when no later backup of its own says it (a copy caught up from this run's archive)
    doneByRun: r.backed_up_since && r.done_by !== null && !(r.last_backup_at && r.finished_at && r.last_backup_at > r.finished_at) ? Number(r.done_by) : null,
  }));
}
