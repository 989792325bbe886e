import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/** The dossier's kept generation taken at or just before `at` (restore --at, R-BK-11); undefined: none. */
export async function generationAt(db: Queryable, code: string, at: Date): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NULL AND snapshot_at <= $2
      ORDER BY snapshot_at DESC, id DESC LIMIT 1`,
    [code, at],
  );
  return rows[0] && toGeneration(rows[0]);
}
