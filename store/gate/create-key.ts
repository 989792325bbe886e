import type { Queryable } from '../queryable';
import { toGateKey, type GateKey, type GateKeyRow } from './key-row';

export interface NewGateKey {
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
}

/** R-SE-4: records a key of this target; the secret itself is never stored (only its SHA-256). */
export async function createKey(db: Queryable, key: NewGateKey): Promise<GateKey> {
  const { rows } = await db.query<GateKeyRow>(
    `INSERT INTO nightshift.gate_key (id, name, prefix, secret_hash) VALUES ($1, $2, $3, $4)
     RETURNING id, name, prefix, created_at, last_used_at, revoked_at`,
    [key.id, key.name, key.prefix, key.secretHash],
  );
  return toGateKey(rows[0]!);
}
