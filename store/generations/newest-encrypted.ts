import type { Queryable } from '../queryable';

/** The newest generation written encrypted (its id and key id), or undefined: the target never encrypted (R-BK-12). */
export async function newestEncryptedGeneration(db: Queryable): Promise<{ id: number; keyId: string } | undefined> {
  const { rows } = await db.query<{ id: string; key_id: string }>(
    'SELECT id, key_id FROM nightshift.backup_generation WHERE key_id IS NOT NULL ORDER BY id DESC LIMIT 1',
  );
  return rows[0] && { id: Number(rows[0].id), keyId: rows[0].key_id };
}
