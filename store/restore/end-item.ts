import type { Queryable } from '../queryable';

/**
 * A pending dossier ended: 'ok' (in the restore's own transaction, with the generation restored), 'kept' (already
 * there, not replaced) or 'failed' (nothing changed, with why). An item already ended is left as it is: false.
 */
export async function endRestoreItem(
  db: Queryable,
  runId: number,
  code: string,
  e: {
    status: 'ok' | 'kept' | 'failed';
    generationId?: number | null;
    failureType?: string | null;
    error?: string | null;
    /** restored from the generation's off-site copy (`{bucket}/{key}`), not its local file, and why (migration 0043) */
    readFromCopy?: { copy: string; why: string };
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.restore_run_item SET status = $3, generation_id = $4, failure_type = $5, error = $6, read_from_copy = $7, read_from_copy_why = $8, finished_at = now()
      WHERE run_id = $1 AND code = $2 AND status = 'pending'`,
    [
      runId,
      code,
      e.status,
      e.generationId ?? null,
      e.failureType ?? null,
      e.error === undefined || e.error === null ? null : e.error.slice(0, 2000),
      e.readFromCopy?.copy ?? null,
      e.readFromCopy?.why.slice(0, 2000) ?? null,
    ],
  );
  await db.query('UPDATE nightshift.restore_run SET updated_at = now() WHERE id = $1', [runId]);
  return (rowCount ?? 0) > 0;
}
