import type { Queryable } from '../queryable';

/** The next 5000 codes of a run not backed up, in code order after `after` ('' first): the mail's list. */
export async function failedCodesPage(db: Queryable, runId: string, after: string): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 AND status <> 'ok' AND code > $2 ORDER BY code LIMIT 5000`,
    [runId, after],
  );
  return rows.map((r) => r.code);
}
