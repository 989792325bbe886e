import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * Each of `codes`' newest kept generation at or before `at` (of `kind` when given), as generationAt finds it one code at
 * a time, in one statement: a code without one is not in the map. What a bulk restore's dry run reads for every dossier
 * (drill D2's 100,000-dossier question: one statement, not one a dossier).
 */
export async function newestGenerationsAt(db: Queryable, codes: string[], at: Date, kind: string | null): Promise<Map<string, Generation>> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT DISTINCT ON (code) ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = ANY ($1::text[]) AND deleted_at IS NULL AND snapshot_at < $2::timestamptz + interval '1 millisecond'
        AND ($3::text IS NULL OR kind = $3)
      ORDER BY code, snapshot_at DESC, id DESC`,
    [codes, at, kind],
  );
  return new Map(rows.map((r) => [r.code, toGeneration(r)]));
}
