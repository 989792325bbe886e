import type { Queryable } from '../queryable';

/** A restored dossier whose generation was read from its off-site copy: the copy (`bucket/key`) and why not the local file. */
export interface ReadFromCopy {
  code: string;
  copy: string;
  why: string;
}

/**
 * The run's dossiers restored from their generation's off-site copy (recorded with their 'ok', migration 0043): the
 * first `limit` by code, and how many.
 */
export async function restoreItemsReadFromCopy(db: Queryable, runId: number, limit: number): Promise<{ total: number; shown: ReadFromCopy[] }> {
  const { rows } = await db.query<ReadFromCopy & { n: number }>(
    `SELECT code, read_from_copy AS copy, coalesce(read_from_copy_why, '') AS why, count(*) OVER ()::int AS n FROM nightshift.restore_run_item
      WHERE run_id = $1 AND read_from_copy IS NOT NULL ORDER BY code LIMIT $2`,
    [runId, limit],
  );
  return { total: rows[0]?.n ?? 0, shown: rows.map(({ code, copy, why }) => ({ code, copy, why })) };
}
