import type { Queryable } from '../queryable';

/** Repairs cut off before their package was replaced (run `patch repair` again with the same folder). */
export async function unfinishedRepairs(db: Queryable): Promise<{ id: number; number: number; source_dir: string; dossiers: number }[]> {
  const { rows } = await db.query<{ id: string; number: number; source_dir: string; dossiers: number }>(
    `SELECT id, number, source_dir, dossiers FROM nightshift.patch_repair WHERE state = 'running' ORDER BY number`,
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}
