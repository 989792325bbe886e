import type { Queryable } from '../queryable';

export async function schemaExists(db: Queryable, schema: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return Boolean(rowCount);
}
