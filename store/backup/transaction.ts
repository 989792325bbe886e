import type { Queryable } from '../queryable';

/** Transaction control for the claim, which runs several store operations on one client. */
export async function begin(client: Queryable): Promise<void> {
  await client.query('BEGIN');
}
export async function commit(client: Queryable): Promise<void> {
  await client.query('COMMIT');
}
export async function rollback(client: Queryable): Promise<void> {
  await client.query('ROLLBACK');
}
