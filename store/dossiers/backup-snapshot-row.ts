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
  /** R-BK-1: the batch run named has this dossier in its ledger already (false without a run) */
  done_in_run: boolean;
  /** its schema is in the database (drill D: a schema dropped by hand was archived as an empty dossier) */
  schema_exists: boolean;
}

/**
 * A dossier's registry row as the backup archives it, and whether it is in use; as the first statement
 * of the snapshot, it takes the snapshot (one round trip per dossier of a batch). With a batch run, it
 * also says whether that run's ledger has the dossier already: an attempt superseded while it was cut
 * off (a worker frozen, then back) must not back it up a second time.
 */
export async function backupSnapshotRow(db: Queryable, code: string, runId?: number): Promise<BackupSnapshotRow | undefined> {
  const { rows } = await db.query<BackupSnapshotRow>({
    name: 'nightshift.backup_snapshot_row',
    text: `SELECT code, label, role, copy_status, is_test, is_specific, is_template, is_transferable, patch_level, schema_name,
            change_seq::text, now() AS snapshot_at,
            EXISTS (SELECT 1 FROM nightshift.dossier_in_use u WHERE u.dossier_code = d.code) AS in_use,
            ($2::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM nightshift.backup_run_item i WHERE i.run_id = $2::bigint AND i.code = d.code)) AS done_in_run,
            EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = d.schema_name::name) AS schema_exists
       FROM nightshift.dossier d WHERE code = $1`,
    values: [code, runId ?? null],
  });
  return rows[0];
}
