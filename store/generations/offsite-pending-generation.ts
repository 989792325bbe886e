import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * The dossier's newest kept 'normal' generation when its off-site copy is not done (nightshift.backup_offsite_pending,
 * R-BK-14) and it is still current: the dossier unmodified since (same change counter) and its file not found
 * corrupt or missing by a verification. The batch copies it instead of writing a new generation of the same data.
 */
export async function offsitePendingGeneration(db: Queryable, code: string): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE id = (SELECT g.id FROM nightshift.backup_offsite_pending p
                    JOIN nightshift.backup_generation g ON g.id = p.generation_id
                    JOIN nightshift.dossier d ON d.code = p.code
                   WHERE p.code = $1 AND g.deleted_at IS NULL AND g.change_seq = d.change_seq
                     AND g.verify_state NOT IN ('corrupt', 'missing'))`,
    [code],
  );
  return rows[0] && toGeneration(rows[0]);
}
