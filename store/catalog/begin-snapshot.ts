import type { Queryable } from '../queryable';

/** One consistent, read-only view of the database for everything the caller reads next (a dossier's backup). */
export async function beginSnapshot(db: Queryable): Promise<void> {
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
}
