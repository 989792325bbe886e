import type { OffsiteState } from '../../domain/generation';
import type { Queryable } from '../queryable';

/**
 * Records the off-site copy of a generation (R-BK-14): copied (bucket, key, SHA-256 the storage checked), failed
 * (why) or deleted (`deletedBy`: the prune that deleted the object; none when there was no object to delete).
 */
export async function markGenerationOffsite(
  db: Queryable,
  id: number,
  o: { state: Exclude<OffsiteState, 'none'>; bucket?: string | null; key?: string | null; sha256?: string | null; error?: string | null; deletedBy?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE nightshift.backup_generation
        SET offsite_state = $2, offsite_bucket = coalesce($3, offsite_bucket), offsite_key = coalesce($4, offsite_key),
            sha256 = coalesce($5, sha256), offsite_error = $6, offsite_at = now(), offsite_deleted_by = coalesce($7, offsite_deleted_by)
      WHERE id = $1`,
    [id, o.state, o.bucket ?? null, o.key ?? null, o.sha256 ?? null, o.error ?? null, o.deletedBy ?? null],
  );
}
