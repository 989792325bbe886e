import type { Queryable } from '../queryable';

/**
 * Creates a database on the server. The name is written into the statement as an identifier (CREATE
 * DATABASE takes no parameter): callers pass a fixed, plain name (the dev stack's), never user input.
 */
export async function createDatabase(db: Queryable, name: string): Promise<void> {
  await db.query(`CREATE DATABASE ${name}`);
}
