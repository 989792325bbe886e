import type { Queryable } from '../queryable';

export interface KeyProblem {
  generationId: number;
  at: Date;
  error: string | null;
}

/**
 * Of these generations, the latest verification of each that could not read it for want of its key (status 'key',
 * R-BK-12): the generation's own verify_state keeps what the last verification that could read it said
 * (index verify_run_item_key_problem).
 */
export async function latestKeyProblems(db: Queryable, generationIds: number[]): Promise<KeyProblem[]> {
  if (!generationIds.length) return [];
  const { rows } = await db.query<{ generation_id: string; finished_at: Date; error: string | null }>(
    `SELECT DISTINCT ON (generation_id) generation_id, finished_at, error FROM nightshift.verify_run_item
      WHERE generation_id = ANY($1::bigint[]) AND status = 'key'
      ORDER BY generation_id, finished_at DESC`,
    [generationIds],
  );
  return rows.map((r) => ({ generationId: Number(r.generation_id), at: r.finished_at, error: r.error }));
}
