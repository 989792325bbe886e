import type { Queryable } from '../queryable';

/** A repair done: every holder's ledger realigned and the stored package replaced (in the caller's transaction). */
export async function closeRepair(db: Queryable, repairId: number): Promise<{ dossiers: number }> {
  const { rows } = await db.query<{ dossiers: number }>(`UPDATE nightshift.patch_repair SET state = 'completed', finished_at = now() WHERE id = $1 RETURNING dossiers`, [repairId]);
  return rows[0]!;
}
