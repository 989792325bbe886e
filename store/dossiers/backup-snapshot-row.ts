import type { Queryable } from '../queryable';
import type { CopyStatus, DossierRole } from '../../domain/dossier';

export interface BackupSnapshotRow {
  code: string;
  label: string;
  role: DossierRole;
  copy_status: CopyStatus;
  is_test: boolean;
  is_specific: boolean;
  is_template: boolean;
  is_transferable: boolean;
  patch_level: number;
  schema_name: string;
  /** the dossier's change counter as the snapshot sees it (R-BK-1) */
  change_seq: string;
  snapshot_at: Date;
  /** R-BK-3: a live session holds the dossier open */
  in_use: boolean;
}

/**
 * A dossier's registry row as the backup archives it, and whether it is in use; as the first statement
 * of the snapshot, it takes the snapshot (one round trip per dossier of a batch).
 */
export async function backupSnapshotRow(db: Queryable, code: string): Promise<BackupSnapshotRow | undefined> {
  const { rows } = await db.query<BackupSnapshotRow>({
    name: 'nightshift.backup_snapshot_row',
    text: `SELECT code, label, role, copy_status, is_test, is_specific, is_template, is_transferable, patch_level, schema_name,
            change_seq::text, now() AS snapshot_at,
            EXISTS (SELECT 1 FROM nightshift.dossier_in_use u WHERE u.dossier_code = d.code) AS in_use
       FROM nightshift.dossier d WHERE code = $1`,
    values: [code],
  });
  return rows[0];
}
