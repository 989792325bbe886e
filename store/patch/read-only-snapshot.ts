import type pg from 'pg';

/**
 * Dossiers per page in the snapshot: a page's reads lock a few tables of each of its dossiers until the next
 * page lets them go (releaseLocks), so a page is a few hundred locks of the lock table (64 per connection).
 */
export const SNAPSHOT_PAGE_SIZE = 100;

/**
 * Runs `fn` on one client inside a READ ONLY transaction on one snapshot (REPEATABLE READ): a plan sees
 * the target as of one instant, and the database itself refuses any write it would attempt. Rolled back.
 *
 * `releaseLocks` lets go of the relation locks taken since the start or its last call: each table read keeps
 * its lock to the transaction's end otherwise, and a plan reads tables of every dossier (2,000 patched dossiers
 * filled the lock table: `out of shared memory`). The reads run inside a savepoint; rolling back to it frees
 * what they locked and undoes nothing (the transaction writes nothing), and the snapshot, the transaction's,
 * stays. A lock let go only lets DDL on a table already read go ahead: the plan reads each dossier once.
 */
export async function withReadOnlySnapshot<T>(
  pool: Pick<pg.Pool, 'connect'>,
  fn: (client: pg.PoolClient, releaseLocks: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query('SAVEPOINT snapshot_reads');
    return await fn(client, async () => {
      await client.query('ROLLBACK TO SAVEPOINT snapshot_reads');
    });
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}
