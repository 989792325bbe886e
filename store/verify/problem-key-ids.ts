import type { Queryable } from '../queryable';

/** The backup keys that the generations of these dossiers with a key problem in a verify run were written with (R-BK-12). */
export async function verifyProblemKeyIds(db: Queryable, runId: number, codes: string[]): Promise<{ code: string; keyId: string }[]> {
  const { rows } = await db.query<{ code: string; key_id: string }>(
    `SELECT DISTINCT i.code, g.key_id FROM nightshift.verify_run_item i
       JOIN nightshift.backup_generation g ON g.id = i.generation_id
      WHERE i.run_id = $1 AND i.status = 'key' AND i.code = ANY ($2::text[]) AND g.key_id IS NOT NULL
      ORDER BY g.key_id, i.code LIMIT 1000`,
    [runId, codes],
  );
  return rows.map((r) => ({ code: r.code, keyId: r.key_id }));
}
