import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

export async function generationById(db: Queryable, id: number): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>(`SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation WHERE id = $1`, [id]);
  return rows[0] && toGeneration(rows[0]);
}
