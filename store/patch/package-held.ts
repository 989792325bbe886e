import { FailureType } from '../../domain/failures';
import type { Queryable } from '../queryable';

/** Run `r`'s lowest patch that failed in a dossier (not a dossier's own state: restored meanwhile, deleted), as `patch`. */
const LOWEST_FAILED_PATCH_SQL = `(SELECT min(i.failed_patch) AS patch FROM nightshift.patch_run_item i
                          WHERE i.run_id = r.id AND i.status = 'failed' AND i.failed_patch IS NOT NULL
                            AND i.failure_type IS DISTINCT FROM '${FailureType.PatchGap}' AND i.failure_type IS DISTINCT FROM '${FailureType.UnknownDossier}')`;

/**
 * Whether run `r`'s failures leave its package unblamed, as SQL over `r.id`: true unless a patch failed (a failed item
 * with a failed patch, not a dossier's own state: restored meanwhile, deleted) and no dossier holds the lowest such
 * patch. Failures without a failed patch (not finished: the run ended or was terminated; a restore point not taken; in
 * use) never blame a package: compared with NULL, they read as "held nowhere" and the package was blamed (tester B).
 * Held by the supervisor alone while two dossiers or more failed on it is held nowhere else: the package is blamed (drill
 * P, session 37: a patch that worked only in the supervisor and failed in all 29 others blamed the 29 dossiers).
 */
export const PACKAGE_HELD_SQL = `NOT EXISTS (
          SELECT 1 FROM ${LOWEST_FAILED_PATCH_SQL} f
           WHERE f.patch IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM nightshift.dossier d WHERE d.patch_level >= f.patch
                              AND (d.role <> 'supervisor'
                                   OR (SELECT count(*) FROM nightshift.patch_run_item j
                                        WHERE j.run_id = r.id AND j.status = 'failed' AND j.failed_patch = f.patch) < 2)))`;

/** The same of one run, for its close (the run's details say whose fault its failures are, as `patch status` does). */
export async function runPackageHeld(db: Queryable, runId: number): Promise<boolean> {
  const { rows } = await db.query<{ held: boolean }>(`SELECT ${PACKAGE_HELD_SQL} AS held FROM nightshift.patch_run r WHERE r.id = $1`, [runId]);
  return rows[0]?.held ?? false;
}

/**
 * Whether run `r`'s lowest failed patch (as PACKAGE_HELD_SQL reads it) is held by the supervisor: then a package fixed
 * and resealed is refused as drift (R-PI-8) until `patch repair` gives the supervisor's ledger its checksum (drill F2,
 * session 37: "fix it, reseal it, integrate again" was refused with ChecksumDrift).
 */
export const SUPERVISOR_HOLDS_SQL = `EXISTS (
          SELECT 1 FROM ${LOWEST_FAILED_PATCH_SQL} f
            JOIN nightshift.dossier d ON d.role = 'supervisor' AND d.patch_level >= f.patch)`;

/** The same of one run, for its close. */
export async function runSupervisorHolds(db: Queryable, runId: number): Promise<boolean> {
  const { rows } = await db.query<{ holds: boolean }>(`SELECT ${SUPERVISOR_HOLDS_SQL} AS holds FROM nightshift.patch_run r WHERE r.id = $1`, [runId]);
  return rows[0]?.holds ?? false;
}
