import type { Queryable } from '../queryable';
import { LIVE_SESSION_SQL } from './sql-parts';

/** For the miss path only: does the id exist, is it live? (The caller compares the token in constant time.) */
export async function findSession(db: Queryable, id: string): Promise<{ tokenHash: string; live: boolean } | undefined> {
  const { rows } = await db.query<{ token_hash: string; live: boolean }>(
    `SELECT token_hash, (${LIVE_SESSION_SQL}) AS live FROM nightshift.session WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  return row ? { tokenHash: row.token_hash, live: row.live } : undefined;
}
