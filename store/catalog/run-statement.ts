import type pg from 'pg';
import type { Queryable } from '../queryable';

/**
 * Runs one statement built around archive-provided text with the extended protocol, which refuses a
 * second statement: catalog text cannot smuggle `; DROP ...` past the structure's shape.
 */
export async function runStatement(db: Queryable, text: string, values: unknown[] = []): Promise<void> {
  await db.query({ text, values, queryMode: 'extended' } as pg.QueryConfig);
}
