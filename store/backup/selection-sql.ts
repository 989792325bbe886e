/** SQL text shared by the statements over a run's selection (R-BK-2, R-BK-4, R-BK-9): `r` is the run, `d` the dossier. */
export const SELECTION_FILTER_SQL = `
      NOT d.is_template AND NOT d.is_test AND d.is_transferable
  AND d.copy_status = ANY (ARRAY(SELECT jsonb_array_elements_text(r.settings -> 'copyStatuses')))
  AND (NOT (r.settings ->> 'modifiedOnly')::boolean OR d.backup_seq IS NULL OR d.change_seq > d.backup_seq)
  AND (r.only_codes IS NULL OR d.code = ANY (r.only_codes))`;

/** A run of the nightly batch ('run') or a `backup retry` of an earlier run ('retry'). */
export type BackupRunKind = 'run' | 'retry';
