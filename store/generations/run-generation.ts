import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * A batch run's kept generation of a dossier, if it wrote one (at most one: migration 0037's index, which this
 * lookup goes through).
 */
export async function runGeneration(db: Queryable, runId: number, code: string): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE run_id = $1 AND code = $2 AND kind = 'normal' AND deleted_at IS NULL`,
    [runId, code],
  );
  return rows[0] && toGeneration(rows[0]);
}
