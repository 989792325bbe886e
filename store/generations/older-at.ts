import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * The dossier's kept generations at or before `at` (of `kind` when given) older than generation `thanId`, newest first,
 * ranked as generationAt ranks them (snapshot time to the microsecond, then id): where a restore run looks when the one
 * it chose has no file on its worker and no copy to read (activities/restore-run.ts).
 */
export async function generationsOlderAt(db: Queryable, code: string, at: Date, thanId: number, kind: string | null): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NULL AND snapshot_at < $2::timestamptz + interval '1 millisecond'
        AND ($4::text IS NULL OR kind = $4) AND (snapshot_at, id) < (SELECT t.snapshot_at, t.id FROM nightshift.backup_generation t WHERE t.id = $3)
      ORDER BY snapshot_at DESC, id DESC`,
    [code, at, thanId, kind],
  );
  return rows.map(toGeneration);
}
