import type { Queryable } from '../queryable';

/** The bench's baseline: the cheapest round trip to the target. */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}
