/**
 * R-BK-14, R-BK-4: the run copies off-site (its worker has a bucket, settings.offsite) and the dossier's newest kept
 * 'normal' generation has no completed off-site copy (nightshift.backup_offsite_pending, kept by a trigger, migration
 * 0017). Such a dossier is selected even when unmodified, and taken first. A hashed subplan over the pending set: as
 * small as what is left to copy, never a probe per dossier.
 */
export const OFFSITE_PENDING_SQL = `(coalesce((r.settings ->> 'offsite')::boolean, false)
      AND d.code IN (SELECT p.code FROM nightshift.backup_offsite_pending p))`;

/** Generation `g` (an alias) is its dossier's newest kept 'normal' one: no newer kept normal generation (index backup_generation_kept). */
const noNewerNormalSql = (g: string): string => `NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = ${g}.code AND n.kind = 'normal' AND n.deleted_at IS NULL AND n.snapshot_at > ${g}.snapshot_at)`;

/**
 * R-BK-11, R-BK-13: the dossier's newest kept 'normal' generation was found corrupt or missing by a verification
 * (its file damaged, or gone with a lost disk while its off-site copy may still read back): no sound local archive
 * of its current data is left, so the run takes it again even when unmodified, and a new generation puts one back.
 * A hashed subplan over the generations found so (index backup_generation_unreadable, migration 0022), each probed
 * once for a newer kept one: as small as what verification found wrong, never a probe per dossier.
 */
export const UNREADABLE_NEWEST_SQL = `d.code IN (SELECT u.code FROM nightshift.backup_generation u
      WHERE u.deleted_at IS NULL AND u.kind = 'normal' AND u.verify_state IN ('corrupt', 'missing')
        AND ${noNewerNormalSql('u')})`;

/**
 * R-BK-12, R-BK-13: the dossier's newest kept 'normal' generation is encrypted with a key the run's worker does not give
 * (`lostKeys`: an uncorrelated SQL expression of the jsonb array of such key ids, written by the claim from the kept
 * generations' keys, store/generations/kept-key-ids.ts): no archive of its current data reads back on this host, as for a
 * corrupt one, so the run takes it again under the current key. Nothing is read when the array is empty (every run
 * but those claimed while a key is not given), else the generations once per statement (a hashed subplan: ~0.1 s per
 * page at 100,000 dossiers, test/offsite/selection-plan.test.ts), never a probe per dossier.
 */
export function lostKeyNewestSql(lostKeys: string): string {
  return `(coalesce(jsonb_array_length(${lostKeys}), 0) > 0
      AND d.code IN (SELECT k.code FROM nightshift.backup_generation k
      WHERE k.deleted_at IS NULL AND k.kind = 'normal' AND k.key_id = ANY (ARRAY(SELECT jsonb_array_elements_text(${lostKeys})))
        AND ${noNewerNormalSql('k')}))`;
}

/** The lost keys of run $1 (every statement over a run's selection binds its id first): read once per statement. */
const RUN_LOST_KEYS_SQL = `(SELECT x.settings -> 'lostKeys' FROM nightshift.backup_run x WHERE x.id = $1)`;

/**
 * R-BK-4: the dossiers that the runs since the last full one left not backed up (in use, failed, not attempted), each
 * with its newest such status and the run that left it; `previousRun` is an SQL expression of the newest ended run,
 * uncorrelated (a bind parameter, or a subquery over one), so that a statement reads this set once. A full run is a
 * `run` over the whole selection (no `--only`): it attempts or records every dossier it selects. A dossier a run left
 * in use therefore stays "taken first" after a `backup run --only` of others, or a retry that left it again, until a
 * run backs it up. The failures of those runs (the partial index backup_run_item_failures), each probed by primary key
 * in the handful of later runs for a backup that did it (a scalar subquery: an anti-join could hash every run's whole
 * ledger): never a scan of a run's whole ledger.
 */
export function leftNotBackedUpSql(previousRun: string): string {
  return `SELECT DISTINCT ON (i.code) i.code, i.status, i.run_id
      FROM nightshift.backup_run_item i
     WHERE i.status <> 'ok' AND i.run_id <= ${previousRun}
       AND i.run_id >= (SELECT coalesce(max(f.id), 0) FROM nightshift.backup_run f
                         WHERE f.id <= ${previousRun} AND f.state <> 'running' AND f.kind = 'run' AND f.only_codes IS NULL)
       AND (SELECT n.run_id FROM nightshift.backup_run x JOIN nightshift.backup_run_item n ON n.run_id = x.id AND n.code = i.code
             WHERE x.id > i.run_id AND x.id <= ${previousRun} AND n.status = 'ok' LIMIT 1) IS NULL
     ORDER BY i.code, i.run_id DESC`;
}

/**
 * R-BK-2: the nightly selection keeps dossier `d`: not a template, not a test dossier, transferable, and of a copy
 * status the settings take (`copyStatuses`: an SQL text[] expression). One text for the batch's selection and for
 * `backup run --dry-run`'s list of modified dossiers it leaves out.
 */
export function nightlyKeepsSql(copyStatuses: string): string {
  return `NOT d.is_template AND NOT d.is_test AND d.is_transferable AND d.copy_status = ANY (${copyStatuses})`;
}

/** R-BK-2: dossier `d` changed since its last backup, or was never backed up. */
export const MODIFIED_SINCE_BACKUP_SQL = `(d.backup_seq IS NULL OR d.change_seq > d.backup_seq)`;

/**
 * SQL text shared by the statements over a run's selection (R-BK-2, R-BK-4, R-BK-9): `r` is the run, `d` the dossier.
 * R-BK-2's exclusions (template, test, non-transferable, a copy status the settings leave out) make the nightly
 * selection; a run the operator started for named dossiers (`backup run --only`, a window's `--backup-only`, kind
 * 'run') takes those it names (the CLI says which it takes despite them). A retry does not apply them again: its codes
 * are the failures of a run that chose them (a template a window backed up on purpose is retried, not dropped).
 * `lostKeys`: see lostKeyNewestSql.
 */
export function selectionFilterSql(lostKeys: string): string {
  return `
      (r.kind = 'retry' OR r.kind = 'run' AND r.only_codes IS NOT NULL
       OR ${nightlyKeepsSql(`ARRAY(SELECT jsonb_array_elements_text(r.settings -> 'copyStatuses'))`)})
  AND (NOT (r.settings ->> 'modifiedOnly')::boolean OR ${MODIFIED_SINCE_BACKUP_SQL} OR ${OFFSITE_PENDING_SQL}
       OR ${UNREADABLE_NEWEST_SQL} OR ${lostKeyNewestSql(lostKeys)})
  AND (r.only_codes IS NULL OR d.code = ANY (r.only_codes))`;
}

/** The filter of the statements over run $1's selection (its lost keys read from its row). */
export const SELECTION_FILTER_SQL = selectionFilterSql(RUN_LOST_KEYS_SQL);

/** A run of the nightly batch ('run') or a `backup retry` of an earlier run ('retry'). */
export type BackupRunKind = 'run' | 'retry';
