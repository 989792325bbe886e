import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * Pruned generations of a dossier whose file or off-site copy may still exist: marked by this prune (a
 * retried activity after a worker died between the mark and the unlink), marked lately by another one
 * (an unlink or an object deletion that failed), or whose off-site copy is still recorded as copied.
 */
export async function pruneLeftovers(db: Queryable, code: string, prunedBy: string, recentDays = 7): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NOT NULL
        AND (deleted_by = $2 OR deleted_at > now() - make_interval(days => $3) OR offsite_state = 'copied')
      ORDER BY snapshot_at DESC, id DESC`,
    [code, prunedBy, recentDays],
  );
  return rows.map(toGeneration);
}
