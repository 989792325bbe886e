import type { NewGeneration } from '../../domain/generation';
import { FailureType, permanentFailure } from '../../domain/failures';
import type { Queryable } from '../queryable';

/** Migration 0037: a batch run's one generation of a dossier. */
const ONCE_PER_RUN = 'backup_generation_once_per_run';

/**
 * Records a generation whose file is complete and durable (R-BK-6, R-BK-11); returns its id. A batch run that has
 * a generation of the dossier already (its other attempt recorded it) is refused: DossierDoneInRun (R-BK-1, once).
 * A named statement, prepared once per connection like the other statements of a dossier's backup transaction
 * (recordBackup, the batch's recordItem): unnamed, PostgreSQL parsed and planned the three for every dossier, 0.7-0.95 ms
 * of its CPU per dossier (bench/backup-record.ts).
 */
export async function recordGeneration(db: Queryable, g: NewGeneration): Promise<number> {
  try {
    const { rows } = await db.query<{ id: string }>({
      name: 'nightshift.record_generation',
      text: `INSERT INTO nightshift.backup_generation
               (code, kind, file, links, run_id, reason, snapshot_at, size, sha256, key_id, patch_level, change_seq, tables, row_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
      values: [g.code, g.kind, g.file, g.links, g.runId, g.reason, g.snapshotAt, g.size, g.sha256, g.keyId, g.patchLevel, g.changeSeq, g.tables, g.rowCount],
    });
    return Number(rows[0]!.id);
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint === ONCE_PER_RUN) {
      throw permanentFailure(FailureType.DossierDoneInRun, `dossier ${g.code} has its generation of backup run ${g.runId} already: not recorded again`);
    }
    throw err;
  }
}
