import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * Pruned generations of a dossier whose file or off-site copy may still exist: pruned lately (by this prune, a
 * retried activity after a worker died between the mark and the unlink, or by another one whose unlink failed:
 * a prune lasts hours, far less than the window), and those whose off-site object may still be there (a deletion
 * that failed, R-BK-14; a copy recorded failed whose object may exist all the same). Two index ranges per dossier
 * (migration 0017), never the whole table.
 */
export async function pruneLeftovers(db: Queryable, code: string, recentDays = 7): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NOT NULL
        AND (deleted_at > now() - make_interval(days => $2) OR (offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL))
      ORDER BY snapshot_at DESC, id DESC`,
    [code, recentDays],
  );
  return rows.map(toGeneration);
}
