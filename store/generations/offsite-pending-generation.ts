import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * The archive the batch may take for a pending dossier (nightshift.backup_offsite_pending, R-BK-14) instead of
 * writing a new generation of the same data: the pending row's generation (the newest kept 'normal' one, its copy
 * not done), or, when the row names none (migration 0019: only older copies to make again), the dossier's newest
 * kept 'normal' generation, already copied. Only while it is still current: the dossier unmodified since (same
 * change counter) and its file not found corrupt or missing by a verification. Undefined for a dossier with no
 * such generation (an archive from before generations): the batch backs it up.
 */
export async function offsitePendingGeneration(db: Queryable, code: string): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation g
      WHERE g.id = (SELECT coalesce(p.generation_id,
                                    (SELECT n.id FROM nightshift.backup_generation n
                                      WHERE n.code = p.code AND n.kind = 'normal' AND n.deleted_at IS NULL
                                      ORDER BY n.snapshot_at DESC, n.id DESC LIMIT 1))
                      FROM nightshift.backup_offsite_pending p WHERE p.code = $1)
        AND g.deleted_at IS NULL AND g.verify_state NOT IN ('corrupt', 'missing')
        AND g.change_seq = (SELECT d.change_seq FROM nightshift.dossier d WHERE d.code = $1)`,
    [code],
  );
  return rows[0] && toGeneration(rows[0]);
}
