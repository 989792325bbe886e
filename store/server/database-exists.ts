import type { Queryable } from '../queryable';

/** Whether the server has a database of this name (run on a connection to its `postgres` database). */
export async function databaseExists(db: Queryable, name: string): Promise<boolean> {
  const exists = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return Boolean(exists.rowCount);
}
