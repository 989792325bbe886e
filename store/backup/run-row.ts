/** A row of nightshift.backup_run, as node-postgres returns it. */
export interface BackupRunRow {
  id: string;
  workflow_id: string;
  kind: string;
  retry_of: string | null;
  state: string;
  started_at: Date;
  finished_at: Date | null;
  selected: number;
  total: number;
  ok: number;
  failed: number;
  report_path: string | null;
  note: string | null;
  mail_state: string;
  mail_error: string | null;
}
