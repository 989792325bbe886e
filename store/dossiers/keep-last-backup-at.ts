import type { Queryable } from '../queryable';

/**
 * A dossier restored over one of the same code keeps the replaced one's last-backup-at (it only moves forward: its
 * archives are still there); backup_seq stays unset, so the restored dossier counts as modified until its next backup.
 */
export async function keepLastBackupAt(db: Queryable, code: string, lastBackupAt: Date): Promise<void> {
  await db.query('UPDATE nightshift.dossier SET last_backup_at = $2 WHERE code = $1', [code, lastBackupAt]);
}
