import type { Generation, GenerationKind } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/** A dossier's generations, newest first: the kept ones, or with `deleted` the pruned ones too. */
export async function dossierGenerations(db: Queryable, code: string, o: { kind?: GenerationKind; deleted?: boolean } = {}): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND ($2::text IS NULL OR kind = $2) AND ($3 OR deleted_at IS NULL)
      ORDER BY snapshot_at DESC, id DESC`,
    [code, o.kind ?? null, o.deleted ?? false],
  );
  return rows.map(toGeneration);
}
