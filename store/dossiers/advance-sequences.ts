import type { Queryable } from '../queryable';

/** Moves the serial sequence of `column` in each table to its value, so later inserts go past ids given explicitly. */
export async function advanceSequences(db: Queryable, tables: string[], values: number[], column: string): Promise<void> {
  await db.query('SELECT setval(pg_get_serial_sequence(t, $3), n) FROM unnest($1::text[], $2::bigint[]) AS u(t, n)', [tables, values, column]);
}
