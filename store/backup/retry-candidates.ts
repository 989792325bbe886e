import type { Queryable } from '../queryable';

export interface RetryCandidate {
  code: string;
  status: string;
  /** still a dossier of the target (a deleted one is not retried) */
  registered: boolean;
  lastBackupAt: Date | null;
  /** a backup taken after this run failed it (its snapshot is later), and no write to the dossier since that backup */
  backedUpSince: boolean;
}

/** The dossiers a run did not back up, in code order, each with what `backup retry` needs to know of it since. */
export async function retryCandidates(db: Queryable, runId: string): Promise<RetryCandidate[]> {
  const { rows } = await db.query<{ code: string; status: string; registered: boolean; last_backup_at: Date | null; backed_up_since: boolean }>(
    `SELECT i.code, i.status, d.code IS NOT NULL AS registered, d.last_backup_at,
            coalesce(d.last_backup_at > i.finished_at AND d.change_seq <= d.backup_seq, false) AS backed_up_since
       FROM nightshift.backup_run_item i LEFT JOIN nightshift.dossier d ON d.code = i.code
      WHERE i.run_id = $1 AND i.status <> 'ok'
      ORDER BY i.code`,
    [runId],
  );
  return rows.map((r) => ({ code: r.code, status: r.status, registered: r.registered, lastBackupAt: r.last_backup_at, backedUpSince: r.backed_up_since }));
}
