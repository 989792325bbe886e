import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * The dossier's kept generations, any kind, whose off-site copy is recorded 'failed' (a copy that failed, or one a
 * verification found missing or different) while their local file is intact (R-BK-14, R-BK-13): the copies the
 * batch makes again after the dossier's own archive, newest first. A file found corrupt or missing has nothing
 * left to copy. Reads the dossier's kept generations only (index backup_generation_kept).
 */
export async function failedOffsiteCopies(db: Queryable, code: string): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NULL AND offsite_state = 'failed' AND verify_state NOT IN ('corrupt', 'missing')
      ORDER BY snapshot_at DESC, id DESC`,
    [code],
  );
  return rows.map(toGeneration);
}
