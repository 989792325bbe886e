import type { VerifyState } from '../../domain/generation';
import type { Queryable } from '../queryable';

/**
 * Records a verification of a generation (R-BK-13): its state, whether it was restored and compared, the file's SHA-256
 * when read. Named, prepared once per connection, as the other statements a verification runs per generation (its
 * lease, its row, its run item): a scheduled verification reads every kept generation, and parsing and planning those
 * five statements for each cost PostgreSQL ~1 ms of CPU per generation (bench/backup-record.ts).
 */
export async function markGenerationVerified(
  db: Queryable,
  id: number,
  v: { state: Exclude<VerifyState, 'unverified'>; error: string | null; restored: boolean; sha256?: string | null },
): Promise<void> {
  await db.query({
    name: 'nightshift.mark_generation_verified',
    text: `UPDATE nightshift.backup_generation
              SET verify_state = $2, verify_error = $3, verify_restored = $4, verified_at = now(), sha256 = coalesce($5, sha256)
            WHERE id = $1`,
    values: [id, v.state, v.error, v.restored, v.sha256 ?? null],
  });
}
