import type { Queryable } from '../queryable';

/** The off-site copies recorded in one bucket (R-BK-14): of kept generations, and of pruned ones whose object is still there. */
export interface BucketCopies {
  bucket: string;
  /** kept generations whose copy is recorded copied there */
  copied: number;
  /** of dossiers */
  dossiers: number;
  /** kept generations whose copy there is recorded failed (an object may be left) */
  failed: number;
  /** pruned generations whose object there the next prune deletes (the storage refused or was away) */
  pruned: number;
  /** the newest copy recorded there */
  lastCopiedAt: Date | null;
}

/**
 * Every bucket the generations' copies were recorded in, most copies first: after NIGHTSHIFT_OFFSITE_S3_BUCKET changed,
 * the copies made before stay in the old bucket, where restores and verifications read them and prunes delete them.
 */
export async function copiesByBucket(db: Queryable): Promise<BucketCopies[]> {
  const { rows } = await db.query<{ bucket: string; copied: number; dossiers: number; failed: number; pruned: number; last_copied_at: Date | null }>(
    `SELECT offsite_bucket AS bucket,
            count(*) FILTER (WHERE deleted_at IS NULL AND offsite_state = 'copied')::int AS copied,
            count(DISTINCT code) FILTER (WHERE deleted_at IS NULL AND offsite_state = 'copied')::int AS dossiers,
            count(*) FILTER (WHERE deleted_at IS NULL AND offsite_state = 'failed')::int AS failed,
            count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS pruned,
            max(offsite_at) FILTER (WHERE deleted_at IS NULL AND offsite_state = 'copied') AS last_copied_at
       FROM nightshift.backup_generation
      WHERE offsite_bucket IS NOT NULL AND offsite_state IN ('copied', 'failed')
      GROUP BY offsite_bucket
      ORDER BY 2 DESC, 1`,
  );
  return rows.map((r) => ({ bucket: r.bucket, copied: r.copied, dossiers: r.dossiers, failed: r.failed, pruned: r.pruned, lastCopiedAt: r.last_copied_at }));
}
