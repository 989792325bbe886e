/** Stored with a backup run (its `settings` column): what the selection and the report need, fixed at the claim. */
export interface BackupRunSettings {
  /** absolute folder of the B{code}.SVG files (backup folder + optional date sub-folder of the run's start) */
  destinationDir: string;
  documents: boolean;
  copyStatuses: ('original' | 'copy')[];
  modifiedOnly: boolean;
  reportFolder: string;
  reportRecipients: string[];
  /** the backup folder, root of the run's generations (R-BK-11); absent in runs claimed before generations */
  generationsRoot?: string;
  /** R-BK-14: the claiming worker copies off-site (has a bucket): dossiers whose newest generation is not copied are selected first; absent before */
  offsite?: boolean;
  /** R-BK-12: key ids of kept generations that the claiming worker does not give (their dossiers' newest is taken again); absent before */
  lostKeys?: string[];
}

/** A row of nightshift.backup_run, as node-postgres returns it. */
export interface BackupRunRow {
  id: string;
  workflow_id: string;
  kind: string;
  retry_of: string | null;
  previous_run: string | null;
  state: string;
  settings: BackupRunSettings;
  only_codes: string[] | null;
  started_at: Date;
  finished_at: Date | null;
  selected: number;
  total: number;
  ok: number;
  failed: number;
  report_path: string | null;
  note: string | null;
  stop_reason: string | null;
  mail_state: string;
  mail_error: string | null;
}
