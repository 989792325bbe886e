import type pg from 'pg';

/**
 * Runs `fn` on one client inside a READ ONLY transaction on one snapshot (REPEATABLE READ): a plan sees
 * the target as of one instant, and the database itself refuses any write it would attempt. Rolled back.
 */
export async function withReadOnlySnapshot<T>(pool: Pick<pg.Pool, 'connect'>, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await fn(client);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}
