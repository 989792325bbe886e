import type { Queryable } from '../queryable';

/**
 * In the restore's transaction: what the registry knew of the dossier before the restore recreated its row
 * (created, last backup). Its change counter stays the new one, above backup_seq: the next batch backs the
 * rolled-back dossier up (R-BK-10).
 */
export async function rewindRegistryRow(tx: Queryable, code: string, createdAt: string, lastBackupAt: string | null, backupSeq: string | null): Promise<void> {
  await tx.query('UPDATE nightshift.dossier SET created_at = $2::timestamptz, last_backup_at = $3::timestamptz, backup_seq = $4 WHERE code = $1', [code, createdAt, lastBackupAt, backupSeq]);
}
