import type { Dossier } from '../../domain/dossier';

/** A registry row as nightshift.dossier holds it (DOSSIER_COLUMNS selects it). */
export interface DossierRow {
  code: string;
  label: string;
  role: Dossier['role'];
  is_test: boolean;
  is_specific: boolean;
  is_template: boolean;
  is_transferable: boolean;
  copy_status: Dossier['copyStatus'];
  schema_name: string;
  modified_at: Date;
  last_backup_at: Date | null;
  patch_level: number;
  modified_since_backup: boolean;
}

export const DOSSIER_COLUMNS = `code, label, role, is_test, is_specific, is_template, is_transferable, copy_status,
  schema_name, modified_at, last_backup_at, patch_level,
  (backup_seq IS NULL OR change_seq > backup_seq) AS modified_since_backup`;

export function toDossier(r: DossierRow): Dossier {
  return {
    code: r.code,
    label: r.label,
    role: r.role,
    copyStatus: r.copy_status,
    flags: { test: r.is_test, specific: r.is_specific, template: r.is_template, transferable: r.is_transferable },
    schemaName: r.schema_name,
    modifiedAt: r.modified_at.toISOString(),
    lastBackupAt: r.last_backup_at ? r.last_backup_at.toISOString() : null,
    patchLevel: r.patch_level,
    modifiedSinceBackup: r.modified_since_backup,
  };
}
