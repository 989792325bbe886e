import type { Queryable } from '../queryable';

/**
 * The SHA-256 of a generation's file read back whole (every part's checksum) by the prune's check before it deletes
 * (R-BK-11), when none is recorded yet: the next check compares it, as a verification's does (R-BK-13). A recorded
 * one is never replaced.
 */
export async function recordGenerationSha256(db: Queryable, id: number, sha256: string): Promise<void> {
  await db.query('UPDATE nightshift.backup_generation SET sha256 = $2 WHERE id = $1 AND sha256 IS NULL', [id, sha256]);
}
