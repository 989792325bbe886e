import type { Queryable } from '../queryable';

/**
 * The part of the target's last rotating verify run in `of` parts that was not ended early (migration 0038), or
 * null: the next rotating run reads the one after it (domain/backup-verify.ts nextRotatingPart). Read under
 * lockVerifyRotation, so that two runs claimed at once do not read the same part.
 */
export async function lastRotatingPart(db: Queryable, of: number): Promise<number | null> {
  const { rows } = await db.query<{ part: number }>(
    `SELECT subset_part AS part FROM nightshift.verify_run WHERE subset_rotating AND subset_of = $1 AND state <> 'failed' ORDER BY id DESC LIMIT 1`,
    [of],
  );
  return rows[0]?.part ?? null;
}

