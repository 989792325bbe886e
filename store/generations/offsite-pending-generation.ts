import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * Whether the dossier has off-site copies left to make (nightshift.backup_offsite_pending, R-BK-14), and the
 * archive the batch may take for it instead of writing a new generation of the same data: the pending row's
 * generation (the newest kept 'normal' one, its copy not done), or, when the row names none (migration 0019: only
 * older copies to make again), the dossier's newest kept 'normal' generation, already copied. Only while it is
 * still current: the dossier unmodified since (same change counter) and its file not found corrupt or missing by a
 * verification. No generation for a dossier whose archive predates generations: the batch backs it up. One
 * statement: the batch asks this of every dossier it takes.
 */
export async function offsitePendingGeneration(db: Queryable, code: string): Promise<{ pending: boolean; generation?: Generation }> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT g.* FROM nightshift.backup_offsite_pending p
       LEFT JOIN LATERAL (
         SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
          WHERE id = coalesce(p.generation_id,
                              (SELECT n.id FROM nightshift.backup_generation n
                                WHERE n.code = p.code AND n.kind = 'normal' AND n.deleted_at IS NULL
                                ORDER BY n.snapshot_at DESC, n.id DESC LIMIT 1))
            AND deleted_at IS NULL AND verify_state NOT IN ('corrupt', 'missing')
            AND change_seq = (SELECT d.change_seq FROM nightshift.dossier d WHERE d.code = p.code)) g ON true
      WHERE p.code = $1`,
    [code],
  );
  const row = rows[0];
  return { pending: row !== undefined, generation: row?.id == null ? undefined : toGeneration(row) };
}
