import type { Queryable } from '../queryable';

/**
 * What one prune did (R-BK-11, R-BK-14), from the rows, whatever attempt removed the files: the generations it marked
 * deleted (deleted_by), the sizes of those whose file was there (one already gone is recorded missing when marked), the
 * off-site objects of those it deleted, and those whose object is still there (the storage refused or was away: the
 * next prune's work). The objects it deleted for generations earlier prunes marked are counted apart, with whose.
 */
export async function pruneTotals(
  db: Queryable,
  prunedBy: string,
): Promise<{ deleted: number; bytesFreed: number; offsiteDeleted: number; offsiteFinished: number; finishedFor: string[]; recordedDeleted: number; offsiteLeft: number }> {
  const { rows } = await db.query<{ deleted: string; bytes: string; offsite: string; finished: string; finished_for: string[] | null; offsite_left: string }>(
    `SELECT count(*) FILTER (WHERE deleted_by = $1) AS deleted,
            coalesce(sum(size) FILTER (WHERE deleted_by = $1 AND verify_state <> 'missing'), 0) AS bytes,
            count(*) FILTER (WHERE offsite_deleted_by = $1 AND deleted_by = $1) AS offsite,
            count(*) FILTER (WHERE offsite_deleted_by = $1 AND deleted_by <> $1) AS finished,
            array_agg(DISTINCT deleted_by ORDER BY deleted_by) FILTER (WHERE offsite_deleted_by = $1 AND deleted_by <> $1) AS finished_for,
            count(*) FILTER (WHERE deleted_by = $1 AND offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL) AS offsite_left
       FROM nightshift.backup_generation WHERE deleted_by = $1 OR offsite_deleted_by = $1`,
    [prunedBy],
  );
  const r = rows[0]!;
  return {
    deleted: Number(r.deleted),
    bytesFreed: Number(r.bytes),
    offsiteDeleted: Number(r.offsite),
    offsiteFinished: Number(r.finished),
    finishedFor: r.finished_for ?? [],
    recordedDeleted: Number(r.deleted),
    offsiteLeft: Number(r.offsite_left),
  };
}
