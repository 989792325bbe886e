import type { Queryable } from '../queryable';

export interface RunFailure {
  code: string;
  status: string;
  error: string | null;
}

/** The dossiers of a run that were not backed up, in run order (the first 1000). */
export async function runFailures(db: Queryable, runId: string): Promise<RunFailure[]> {
  const { rows } = await db.query<RunFailure>(`SELECT code, status, error FROM nightshift.backup_run_item WHERE run_id = $1 AND status <> 'ok' ORDER BY seq LIMIT 1000`, [runId]);
  return rows;
}
