import type { Queryable } from '../queryable';

/**
 * `backup forget` (R-BK-11): marks a kept generation for the next prune (`by`: who, for the audit trail), or clears the
 * mark (`by` null, `--undo`). Whether it changed a row: a generation pruned meanwhile, or already so, changes none.
 */
export async function markForgotten(db: Queryable, id: number, by: string | null): Promise<boolean> {
  const { rowCount } = await db.query(
    by === null
      ? 'UPDATE nightshift.backup_generation SET forgotten_at = NULL, forgotten_by = NULL WHERE id = $1 AND deleted_at IS NULL AND forgotten_at IS NOT NULL'
      : 'UPDATE nightshift.backup_generation SET forgotten_at = now(), forgotten_by = $2 WHERE id = $1 AND deleted_at IS NULL AND forgotten_at IS NULL',
    by === null ? [id] : [id, by],
  );
  return (rowCount ?? 0) > 0;
}
