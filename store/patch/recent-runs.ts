import type { Queryable } from '../queryable';
import { PACKAGE_HELD_SQL, SUPERVISOR_HOLDS_SQL } from './package-held';
import { RUN_SOURCE_DIR_SQL } from './retry-source';

/** A patch run as `patch status` shows it (field names as in its JSON output). */
export interface RecentRun {
  id: number;
  workflow_id: string;
  mode: string;
  state: string;
  first_patch: number | null;
  last_patch: number | null;
  error: string | null;
  /** how many of its dossiers failed */
  failed: number;
  /** of those, how many are still below the run's last patch (a retry or revalidation since brought the others up) */
  behind: number;
  /** of those, how many are no longer registered (deleted since: neither behind nor brought up) */
  gone: number;
  /** some dossier holds the first patch that failed: the package works, the cause is in the failed dossiers */
  packageHeld: boolean;
  /** the lowest failed patch is held by the supervisor (its fix needs a `patch repair` before the folder integrates again) */
  supervisorHolds: boolean;
  /** the supervisor is among its failed dossiers (a retry takes it first, R-PI-4) */
  supervisorFailed: boolean;
  /** where its packages came from (to integrate them again), when known */
  sourceDir: string | null;
  /** of its failed dossiers, how many are below the supervisor's level now (R-PI-9 lists them too) */
  failedBelowSupervisor: number;
  /**
   * its dossiers restored by rollback runs (R-PI-11): how many, how many of them had been patched, and by which rollback
   * runs; of those it had patched, how many are still below its last patch (`patch revalidate` brings them back, a retry
   * takes only failed dossiers) and the first 5 of them by code
   */
  rolledBack: { dossiers: number; patched: number; by: number[]; patchedBehind: number; patchedBehindCodes: string[] };
  /** what the run noted as it closed (its plan, a --max-failures stop, restore points), as its Web UI details said them */
  notes: string[];
  /** --max-failures stopped it: how many of its dossiers it did not start (null: not stopped) */
  notStarted: number | null;
}

type Row = Omit<RecentRun, 'id' | 'notStarted' | 'failed' | 'behind' | 'gone' | 'packageHeld' | 'supervisorHolds' | 'supervisorFailed' | 'sourceDir' | 'failedBelowSupervisor' | 'rolledBack'> & {
  id: string;
  failed: string;
  behind: string;
  gone: string;
  package_held: boolean;
  supervisor_holds: boolean;
  supervisor_failed: boolean;
  source_dir: string | null;
  failed_below_supervisor: string;
  rolled_back: string;
  rolled_back_patched: string;
  rolled_back_by: string[];
  rolled_back_behind: string;
  rolled_back_behind_codes: string[];
  not_started: number | null;
};

/** The last five patch runs, newest first, each with its count of failed dossiers; or the one run `runId` (none: an unknown run). */
export async function listRecentRuns(db: Queryable, runId?: number): Promise<RecentRun[]> {
  // bigint counts come as text, the flags under their columns' names
  const { rows } = await db.query<Row>(
    `SELECT r.id, r.workflow_id, r.mode, r.state, r.first_patch, r.last_patch, r.error, r.notes, r.not_started,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') AS failed,
            (SELECT count(*) FROM nightshift.patch_run_item i JOIN nightshift.dossier d ON d.code = i.code
              WHERE i.run_id = r.id AND i.status = 'failed' AND d.patch_level < coalesce(r.last_patch, 0)) AS behind,
            (SELECT count(*) FROM nightshift.patch_run_item i
              WHERE i.run_id = r.id AND i.status = 'failed' AND NOT EXISTS (SELECT 1 FROM nightshift.dossier d WHERE d.code = i.code)) AS gone,
            ${PACKAGE_HELD_SQL} AS package_held,
            ${SUPERVISOR_HOLDS_SQL} AS supervisor_holds,
            EXISTS (SELECT 1 FROM nightshift.patch_run_item i JOIN nightshift.dossier d ON d.code = i.code AND d.role = 'supervisor'
                     WHERE i.run_id = r.id AND i.status = 'failed') AS supervisor_failed,
            ${RUN_SOURCE_DIR_SQL} AS source_dir,
            (SELECT count(*) FROM nightshift.patch_run_item i JOIN nightshift.dossier d ON d.code = i.code AND d.role <> 'supervisor'
              WHERE i.run_id = r.id AND i.status = 'failed'
                AND d.patch_level < (SELECT s.patch_level FROM nightshift.dossier s WHERE s.role = 'supervisor' ORDER BY s.code LIMIT 1)) AS failed_below_supervisor,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.rolled_back_by IS NOT NULL) AS rolled_back,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.rolled_back_by IS NOT NULL AND i.status = 'ok') AS rolled_back_patched,
            ARRAY(SELECT DISTINCT i.rolled_back_by::text FROM nightshift.patch_run_item i
                   WHERE i.run_id = r.id AND i.rolled_back_by IS NOT NULL ORDER BY 1) AS rolled_back_by,
            (SELECT count(*) FROM nightshift.patch_run_item i JOIN nightshift.dossier d ON d.code = i.code
              WHERE i.run_id = r.id AND i.rolled_back_by IS NOT NULL AND i.status = 'ok' AND d.patch_level < coalesce(r.last_patch, 0)) AS rolled_back_behind,
            ARRAY(SELECT i.code FROM nightshift.patch_run_item i JOIN nightshift.dossier d ON d.code = i.code
                   WHERE i.run_id = r.id AND i.rolled_back_by IS NOT NULL AND i.status = 'ok' AND d.patch_level < coalesce(r.last_patch, 0)
                   ORDER BY i.code LIMIT 5) AS rolled_back_behind_codes
       FROM nightshift.patch_run r WHERE $1::bigint IS NULL OR r.id = $1 ORDER BY r.id DESC LIMIT 5`,
    [runId ?? null],
  );
  return rows.map(({ not_started, package_held, supervisor_holds, supervisor_failed, source_dir, failed_below_supervisor, rolled_back, rolled_back_patched, rolled_back_by, rolled_back_behind, rolled_back_behind_codes, ...r }) => ({
    ...r,
    id: Number(r.id),
    failed: Number(r.failed),
    behind: Number(r.behind),
    gone: Number(r.gone),
    notStarted: not_started,
    packageHeld: package_held,
    supervisorHolds: supervisor_holds,
    supervisorFailed: supervisor_failed,
    sourceDir: source_dir,
    failedBelowSupervisor: Number(failed_below_supervisor),
    rolledBack: {
      dossiers: Number(rolled_back),
      patched: Number(rolled_back_patched),
      by: rolled_back_by.map(Number).sort((a, b) => a - b),
      patchedBehind: Number(rolled_back_behind),
      patchedBehindCodes: rolled_back_behind_codes,
    },
  }));
}
