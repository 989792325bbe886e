import type { NewGeneration } from '../../domain/generation';
import type { Queryable } from '../queryable';

/** Records a generation whose file is complete and durable (R-BK-6, R-BK-11); returns its id. */
export async function recordGeneration(db: Queryable, g: NewGeneration): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.backup_generation
       (code, kind, file, links, run_id, reason, snapshot_at, size, sha256, key_id, patch_level, change_seq, tables, row_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [g.code, g.kind, g.file, g.links, g.runId, g.reason, g.snapshotAt, g.size, g.sha256, g.keyId, g.patchLevel, g.changeSeq, g.tables, g.rowCount],
  );
  return Number(rows[0]!.id);
}
