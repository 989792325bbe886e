import type { Queryable } from '../queryable';

/** How the verification's finding starts in offsite_error (activities/verify.ts tells its own marks by it). */
export const OFFSITE_LOST_ERROR_PREFIX = 'off-site copy missing or different';

/**
 * A verification found the generation's off-site object missing or not this archive (R-BK-13, R-BK-14): its copy
 * becomes 'failed' (bucket and key kept, so that the prune still deletes whatever is there), and the trigger of
 * migrations 0017/0019 puts the dossier back in backup_offsite_pending, so the next batch copies it again first:
 * its newest 'normal' generation or an older kept one, any kind. Only the copy that was checked changes: a copy
 * recorded since (another offsite_at; node-pg's Date keeps milliseconds of the microseconds, hence the window) or a
 * pruned row is left. `pending`: the dossier now waits for this copy, which is the case whenever its local file is
 * intact (not found corrupt or missing); false when nothing was marked or the file itself is lost.
 */
export async function markOffsiteCopyLost(
  db: Queryable,
  id: number,
  o: { key: string; copiedAt: Date | null; error: string },
): Promise<{ marked: boolean; pending: boolean }> {
  const { rows } = await db.query<{ pending: boolean }>(
    `WITH marked AS (
       UPDATE nightshift.backup_generation
          SET offsite_state = 'failed', offsite_error = $3, offsite_at = now()
        WHERE id = $1 AND offsite_state = 'copied' AND offsite_key = $2 AND deleted_at IS NULL
          AND ($4::timestamptz IS NULL AND offsite_at IS NULL
               OR offsite_at BETWEEN $4::timestamptz - interval '2 milliseconds' AND $4::timestamptz + interval '2 milliseconds')
        RETURNING verify_state)
     SELECT m.verify_state NOT IN ('corrupt', 'missing') AS pending FROM marked m`,
    [id, o.key, `${OFFSITE_LOST_ERROR_PREFIX}: ${o.error}`.slice(0, 2000), o.copiedAt],
  );
  return { marked: rows.length > 0, pending: rows[0]?.pending ?? false };
}
