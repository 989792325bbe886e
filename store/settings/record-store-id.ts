import type pg from 'pg';
import type { StoreKind } from './read-store-ids';

/**
 * Records `storeId` as this target's store of `kind` unless one is recorded already, and returns the
 * recorded one: two workers starting at once both get the first writer's id.
 */
export async function recordStoreId(db: Pick<pg.Pool, 'query'>, kind: StoreKind, storeId: string, recordedBy: string): Promise<string> {
  await db.query(
    `INSERT INTO nightshift.shared_store (kind, store_id, recorded_by) VALUES ($1, $2, $3)
     ON CONFLICT (kind) DO NOTHING`,
    [kind, storeId, recordedBy],
  );
  // a new statement, so a concurrent first writer's committed row is seen
  const { rows } = await db.query<{ store_id: string }>('SELECT store_id FROM nightshift.shared_store WHERE kind = $1', [kind]);
  return rows[0]!.store_id;
}
