import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * The dossier's kept generations, any kind, whose off-site copy is not done while their local file is intact
 * (R-BK-14, R-BK-13): recorded 'failed' (a copy that failed, or one a verification found missing or different), or
 * 'none' (never tried: written before the bucket was configured, by a worker without one, or a single-dossier backup
 * whose copy did not run). The copies a batch that copies off-site makes after the dossier's own archive, newest
 * first; only such a batch asks, so without a bucket nothing is copied. A file found corrupt or missing has nothing
 * left to copy. Reads the dossier's kept generations only (index backup_generation_kept).
 */
export async function failedOffsiteCopies(db: Queryable, code: string): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NULL AND offsite_state IN ('failed', 'none') AND verify_state NOT IN ('corrupt', 'missing')
      ORDER BY snapshot_at DESC, id DESC`,
    [code],
  );
  return rows.map(toGeneration);
}
