import type { Queryable } from '../queryable';

/** The error of a run's first dossier not attempted (notDoneErrorText: why the batch stopped), or null when none. */
export async function notDoneError(db: Queryable, runId: number | string): Promise<string | null> {
  const { rows } = await db.query<{ error: string | null }>(
    `SELECT error FROM nightshift.backup_run_item WHERE run_id = $1 AND status = 'not_done' ORDER BY seq LIMIT 1`,
    [runId],
  );
  return rows[0]?.error ?? null;
}
