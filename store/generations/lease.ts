import type { Queryable } from '../queryable';

/**
 * A restore or a verification reading a generation holds a lease (R-BK-11): prune skips leased generations.
 * False: the generation is already pruned (or being pruned: the prune's row lock orders the two).
 */
export async function takeGenerationLease(db: Queryable, id: number, holder: string, ttlSeconds: number): Promise<boolean> {
  const { rows } = await db.query({
    // named (prepared once per connection): one lease per generation a verification reads (see markGenerationVerified)
    name: 'nightshift.take_generation_lease',
    text: `WITH g AS (SELECT id FROM nightshift.backup_generation WHERE id = $1 AND deleted_at IS NULL FOR SHARE)
           INSERT INTO nightshift.backup_generation_lease (generation_id, holder, expires_at)
           SELECT g.id, $2, now() + make_interval(secs => $3) FROM g
           ON CONFLICT (generation_id, holder) DO UPDATE SET expires_at = EXCLUDED.expires_at
           RETURNING 1`,
    values: [id, holder, ttlSeconds],
  });
  return rows.length > 0;
}

export async function releaseGenerationLease(db: Queryable, id: number, holder: string): Promise<void> {
  await db.query({
    name: 'nightshift.release_generation_lease',
    text: 'DELETE FROM nightshift.backup_generation_lease WHERE generation_id = $1 AND holder = $2',
    values: [id, holder],
  });
}
