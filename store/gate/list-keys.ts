import type { Queryable } from '../queryable';
import { toGateKey, type GateKey, type GateKeyRow } from './key-row';

/** Every key of this target, revoked ones included (oldest first). */
export async function listKeys(db: Queryable): Promise<GateKey[]> {
  const { rows } = await db.query<GateKeyRow>(
    `SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM nightshift.gate_key ORDER BY created_at, id`,
  );
  return rows.map(toGateKey);
}
