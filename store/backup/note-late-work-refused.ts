import type { Queryable } from '../queryable';

/** Notes once on a closed run that its workflow's late work was refused (R-BK-1); `text` says when. */
export async function noteLateWorkRefused(db: Queryable, runId: number, text: string): Promise<void> {
  await db.query(
    `UPDATE nightshift.backup_run SET note = left(coalesce(note || '; ', '') || $2, 2000) WHERE id = $1 AND coalesce(note, '') NOT LIKE '%late work of its workflow refused%'`,
    [runId, text],
  );
}
