import type { Queryable } from '../queryable';

export interface FinishedItemRow {
  status: 'ok' | 'failed';
  from_level: number;
  to_level: number;
  applied: number[];
  failed_patch: number | null;
  failure_type: string | null;
  error: string | null;
  notes: string[];
}

/** A dossier's recorded outcome in the run (an earlier attempt of its chunk finished it); undefined while pending. */
export async function finishedItem(db: Queryable, runId: number, code: string): Promise<FinishedItemRow | undefined> {
  const { rows } = await db.query<FinishedItemRow>(
    `SELECT status, from_level, to_level, applied, failed_patch, failure_type, error, notes FROM nightshift.patch_run_item WHERE run_id = $1 AND code = $2 AND status <> 'pending'`,
    [runId, code],
  );
  return rows[0];
}
