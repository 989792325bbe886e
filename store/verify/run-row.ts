import type { VerifyPart } from '../../domain/backup-verify';

/** nightshift.verify_run as the store functions select it (migration 0014). */
export interface VerifyRunRow {
  id: string;
  workflow_id: string;
  scope: 'all' | 'run' | 'codes';
  backup_run_id: string | null;
  codes: string[] | null;
  full_restore: boolean;
  sample_percent: string;
  seed: string;
  anchor_generation: string | null;
  state: 'running' | 'completed' | 'problems' | 'failed';
  settings: VerifyRunSettings;
  started_at: Date;
  finished_at: Date | null;
  selected: number;
  total: number;
  ok: number;
  problems: number;
  restored: number;
  report_path: string | null;
  mail_state: 'none' | 'pending' | 'sent' | 'failed';
  mail_error: string | null;
  /** why a run ended other than by its workflow (migration 0032: "abandoned: its workflow is terminated") */
  note: string | null;
  /** one part of every kept generation (migration 0038), else null */
  subset_part: number | null;
  subset_of: number | null;
  subset_rotating: boolean;
}

/** Fixed at the claim from the R-BK-9 settings: where the report goes, who gets the mail. */
export interface VerifyRunSettings {
  reportFolder: string;
  reportRecipients: string[];
}

export const VERIFY_RUN_COLUMNS = `id, workflow_id, scope, backup_run_id, codes, full_restore, sample_percent, seed, anchor_generation, state,
  settings, started_at, finished_at, selected, total, ok, problems, restored, report_path, mail_state, mail_error, note,
  subset_part, subset_of, subset_rotating`;

/** The run's part of every kept generation (migration 0038: `--subset N/T`, `--rotate T`), or undefined. */
export function verifyRunPart(run: Pick<VerifyRunRow, 'subset_part' | 'subset_of' | 'subset_rotating'>): VerifyPart | undefined {
  return run.subset_of === null || run.subset_part === null ? undefined : { part: run.subset_part, of: run.subset_of, rotating: run.subset_rotating };
}
