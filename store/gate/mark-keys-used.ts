import type { Queryable } from '../queryable';

/** Records that keys were used, once per gate key refresh rather than once per request. */
export async function markKeysUsed(db: Queryable, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  await db.query(`UPDATE nightshift.gate_key SET last_used_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
}
