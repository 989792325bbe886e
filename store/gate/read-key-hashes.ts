import type { Queryable } from '../queryable';

export interface KeyHash {
  id: string;
  secretHash: string;
  revoked: boolean;
}

/** What a gate keeps in memory to check keys per request: hashes only, revoked ones too (to count their refusals). */
export async function readKeyHashes(db: Queryable): Promise<KeyHash[]> {
  const { rows } = await db.query<{ id: string; secret_hash: string; revoked: boolean }>(
    `SELECT id, secret_hash, revoked_at IS NOT NULL AS revoked FROM nightshift.gate_key`,
  );
  return rows.map((r) => ({ id: r.id, secretHash: r.secret_hash, revoked: r.revoked }));
}
