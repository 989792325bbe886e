import type { Queryable } from '../queryable';

/**
 * R-BK-6: records a complete, durable archive. backup_seq is the change counter the snapshot saw, so a
 * write committed meanwhile keeps the dossier "modified"; a newer backup recorded first is never undone.
 */
export async function recordBackup(db: Queryable, b: { code: string; schema: string; snapshotAt: Date; changeSeq: string }): Promise<void> {
  await db.query({
    // prepared once per connection: one per dossier of a batch (see recordGeneration)
    name: 'nightshift.record_backup',
    text: `UPDATE nightshift.dossier SET last_backup_at = $2, backup_seq = $3
            WHERE code = $1 AND schema_name = $4 AND (backup_seq IS NULL OR backup_seq <= $3)`,
    values: [b.code, b.snapshotAt, b.changeSeq, b.schema],
  });
}
