import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/** One generation by id; a named statement (a verification reads one per generation: see markGenerationVerified). */
export async function generationById(db: Queryable, id: number): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>({
    name: 'nightshift.generation_by_id',
    text: `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation WHERE id = $1`,
    values: [id],
  });
  return rows[0] && toGeneration(rows[0]);
}
