import type { Queryable } from '../queryable';

/** Records how many dossiers the run selected at its claim. */
export async function setSelected(db: Queryable, runId: number, selected: number): Promise<void> {
  await db.query('UPDATE nightshift.backup_run SET selected = $2 WHERE id = $1', [runId, selected]);
}
