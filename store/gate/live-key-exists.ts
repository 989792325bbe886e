import type { Queryable } from '../queryable';

/** Whether a key with this secret hash exists and is not revoked (the dev stack reuses its saved key). */
export async function liveKeyExists(db: Queryable, secretHash: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM nightshift.gate_key WHERE secret_hash = $1 AND revoked_at IS NULL', [secretHash]);
  return rows.length > 0;
}
