import type { Queryable } from '../queryable';

/**
 * What one prune did (R-BK-11, R-BK-14), from the rows: the generations it finished deleting (file and off-site
 * copy: one whose object is still there counts for no prune until a later one deletes it, and then for that
 * one), the bytes of the files it pruned, the off-site objects it deleted; and the generations it recorded deleted,
 * with those of them whose off-site object is still there (the storage refused or was away: the next prune's work).
 */
export async function pruneTotals(
  db: Queryable,
  prunedBy: string,
): Promise<{ deleted: number; bytesFreed: number; offsiteDeleted: number; recordedDeleted: number; offsiteLeft: number }> {
  const { rows } = await db.query<{ deleted: string; bytes: string; offsite: string; recorded: string; offsite_left: string }>(
    `SELECT count(*) FILTER (WHERE coalesce(offsite_deleted_by, deleted_by) = $1
                               AND NOT (offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL)) AS deleted,
            coalesce(sum(size) FILTER (WHERE deleted_by = $1), 0) AS bytes,
            count(*) FILTER (WHERE offsite_deleted_by = $1) AS offsite,
            count(*) FILTER (WHERE deleted_by = $1) AS recorded,
            count(*) FILTER (WHERE deleted_by = $1 AND offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL) AS offsite_left
       FROM nightshift.backup_generation WHERE deleted_by = $1 OR offsite_deleted_by = $1`,
    [prunedBy],
  );
  const r = rows[0]!;
  return {
    deleted: Number(r.deleted),
    bytesFreed: Number(r.bytes),
    offsiteDeleted: Number(r.offsite),
    recordedDeleted: Number(r.recorded),
    offsiteLeft: Number(r.offsite_left),
  };
}
