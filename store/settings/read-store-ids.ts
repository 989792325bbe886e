import type pg from 'pg';

export type StoreKind = 'backups' | 'documents';

export interface RecordedStore {
  storeId: string;
  recordedBy: string;
  recordedAt: Date;
}

/** The store ids recorded for this target, by kind (none before its first worker started). */
export async function readStoreIds(db: Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>): Promise<Partial<Record<StoreKind, RecordedStore>>> {
  const { rows } = await db.query<{ kind: StoreKind; store_id: string; recorded_by: string; recorded_at: Date }>(
    'SELECT kind, store_id, recorded_by, recorded_at FROM nightshift.shared_store',
  );
  return Object.fromEntries(rows.map((r) => [r.kind, { storeId: r.store_id, recordedBy: r.recorded_by, recordedAt: r.recorded_at }]));
}
