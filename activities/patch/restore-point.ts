import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Config } from '../../config/config';
import { backupDossierArchive } from '../../archive/engine';
import { loadBackupKeyring, requireKeyWhereEncrypted } from '../../archive/keys';
import { verifyArchive } from '../../archive/verify';
import { planDossier } from '../../domain/patch-plan';
import { FailureType, failureTypeOf } from '../../domain/failures';
import { oneLine } from '../../domain/run-details';
import type { DossierPatchOutcome } from '../../workflows/patch-integration.api';
import { loadBackupSettings } from '../../store/settings/backup-settings';
import { markGenerationVerified } from '../../store/generations/mark-verified';
import { takeGenerationLease } from '../../store/generations/lease';
import { readDossierPatchState } from '../../store/patch/dossier-patch-state';
import { restorePointItem } from '../../store/patch/restore-point-item';
import { markRestorePointTaking } from '../../store/patch/restore-point-taking';
import { markRestorePointFailed, recordRestorePoint } from '../../store/patch/restore-point-record';
import { restorePointCandidate } from '../../store/patch/restore-point-candidate';
import { withTransaction } from '../../store/transaction';
import { generationById } from '../../store/generations/generation-by-id';
import type { EngineDossier, StoredPatch } from './apply';
import { assertBackupStore } from '../../shared-store/marker';
import { parseRestorePointTempName, restorePointTempName } from '../../domain/restore-point-temp';
import { closedRunIds } from '../../store/patch/closed-run-ids';

/**
 * R-PI-11: the restore point of one dossier, taken just before the patch engine touches it (runs with
 * `restorePoints`, the window payload `backup+patch`). In this order, each step durable before the next:
 *
 *   1. the run's ledger row already names a restore point: nothing to do (a retried chunk resumes here);
 *   2. the run would not change the dossier (at level, only not-applicable patches, refused at once): none;
 *   3. its newest kept generation, verified, with the dossier's current change_seq (unmodified since): reused;
 *   4. else the item is marked 'taking', a generation is written (kind normal, reason 'restore-point', in the
 *      R-BK-9 backup folder), verified (every chunk read back) and marked verified;
 *   5. a lease `restore-point:<run id>` (RESTORE_POINT_LEASE_SECONDS) so retention never prunes it, and the
 *      generation recorded as the item's restore point, in one transaction.
 *
 * A worker killed during 4 leaves 'taking': the retry adopts the generation that backup completed (created
 * since 'taking', same change_seq) instead of writing a second one; a backup that did not complete left no
 * generation row, so one is taken. Only then is the dossier patched. A restore point that cannot be had (the
 * dossier in use, the folder full or unwritable, a corrupt archive) is an outcome: the dossier is not patched
 * and fails with "restore point failed: …"; transient problems (connection lost) are thrown and retried.
 */

/** 30 days: longer than any window and its follow-up; `patch rollback` may release it earlier. */
export const RESTORE_POINT_LEASE_SECONDS = 30 * 86_400;
export const RESTORE_POINT_REASON = 'restore-point';
export const restorePointHolder = (runId: number): string => `restore-point:${runId}`;

/** Problems a retry can cure (the same classes as the patch engine's): rethrown, never a dossier failure. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return /^(08|53|57P)/.test(code) || code === '40001' || code === '40P01';
  return code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE' || (err instanceof Error && err.name === 'AbortError');
}

class RestorePointError extends Error {}

/**
 * Whether the run changes the dossier, by the plan its engine follows (domain/patch-plan.ts, R-PI-10): a step
 * that applies. Already at level, only not-applicable patches (R-PI-6), or refused at its first patch (R-PI-8):
 * no restore point. Treatments do not decide it (a step applies or not by the patch's type).
 */
export function runChangesDossier(d: EngineDossier, ledger: ReadonlyMap<number, string> | null, patches: readonly StoredPatch[]): boolean {
  return planDossier(patches, { dossier: d, ledger, treatments: [] }, 0).steps.some((s) => s.action === 'apply');
}

export interface RestorePointDeps {
  config: Config;
  pool: pg.Pool;
  target: string;
  runId: number;
}

/** What happened to the dossier's restore point; `failed` carries the outcome the run records (not patched). */
export type RestorePointStep = { kind: 'none' | 'recorded' | 'taken' | 'reused'; generationId?: number } | { kind: 'failed'; outcome: DossierPatchOutcome };

export async function ensureRestorePoint(deps: RestorePointDeps, d: EngineDossier, patches: readonly StoredPatch[], signal?: AbortSignal): Promise<RestorePointStep> {
  const { pool, runId } = deps;
  const item = await restorePointItem(pool, runId, d.code);
  if (item?.generationId !== null && item?.generationId !== undefined) return { kind: 'recorded', generationId: item.generationId };
  const state = await readDossierPatchState(pool, d.schemaName, []);
  if (!runChangesDossier(d, state.ledger ? new Map(state.ledger) : null, patches)) return { kind: 'none' };
  try {
    const takingSince = item?.state === 'taking' ? item.at : null;
    const found = await restorePointCandidate(pool, d.code, takingSince);
    if (found && (await usable(deps, found.id, found.file, found.verifyState))) {
      const kind = found.adopted ? 'taken' : 'reused';
      if (await leaseAndRecord(deps, d.code, found.id, kind)) return { kind, generationId: found.id };
    }
    if (!(await markRestorePointTaking(pool, runId, d.code))) throw new RestorePointError(`the run's ledger row of ${d.code} is not pending (run closed?)`);
    const id = await takeRestorePoint(deps, d.code, signal);
    if (!(await leaseAndRecord(deps, d.code, id, 'taken'))) throw new RestorePointError(`generation ${id} could not be leased or recorded (pruned meanwhile, or the run closed)`);
    return { kind: 'taken', generationId: id };
  } catch (err) {
    if (isTransient(err)) throw err;
    const message = `restore point failed: ${oneLine(err instanceof Error ? err.message : String(err), 400)}`;
    await markRestorePointFailed(pool, runId, d.code);
    return {
      kind: 'failed',
      outcome: { code: d.code, status: 'failed', fromLevel: d.patchLevel, toLevel: d.patchLevel, applied: [], failureType: FailureType.RestorePointFailed, error: message },
    };
  }
}

/** A candidate found: a verified one whose file is still there, or this run's own backup once verified now. */
async function usable(deps: RestorePointDeps, id: number, file: string, verifyState: string): Promise<boolean> {
  if (verifyState === 'ok') return fs.promises.access(file).then(() => true, () => false);
  return verify(deps, id, file);
}

/** R-BK-13's check on the new archive: every chunk read back (and authenticated when encrypted). */
async function verify(deps: RestorePointDeps, id: number, file: string): Promise<boolean> {
  try {
    await verifyArchive(file, loadBackupKeyring(deps.config.backupKeys));
  } catch (err) {
    if (isTransient(err)) throw err;
    // a key not given is the worker's configuration, not the archive's fault: the restore point fails, the generation stays unverified
    const type = failureTypeOf(err);
    if (type === FailureType.BackupKeyMissing || type === FailureType.BackupKeyWrong) throw err;
    await markGenerationVerified(deps.pool, id, { state: (err as { code?: string }).code === 'ENOENT' ? 'missing' : 'corrupt', error: oneLine(String(err instanceof Error ? err.message : err)), restored: false });
    return false;
  }
  await markGenerationVerified(deps.pool, id, { state: 'ok', error: null, restored: false });
  return true;
}

/**
 * Once per chunk of a run with restore points, before any dossier: the backup folder still the shared store, and no
 * key file gone where the target's archives are encrypted. Either is the run's problem, not a dossier's: the chunk
 * fails at once instead of each dossier's restore point (and a missing archive recorded as such).
 */
export async function restorePointPreconditions(pool: pg.Pool, target: string, config: Config): Promise<void> {
  await assertBackupStore(pool, target, (await loadBackupSettings(pool, config, target)).settings.folder);
  await requireKeyWhereEncrypted(pool, target, config.backupKeys);
}

async function takeRestorePoint(deps: RestorePointDeps, code: string, signal?: AbortSignal): Promise<number> {
  const { config, pool } = deps;
  const { settings } = await loadBackupSettings(pool, config, deps.target);
  const r = await backupDossierArchive({
    pool,
    target: deps.target,
    code,
    destinationDir: settings.folder,
    fileMode: config.backupFileMode,
    keys: loadBackupKeyring(config.backupKeys),
    plainOnPurpose: config.backupKeys.plainOnPurpose,
    signal,
    generation: { kindRoot: settings.folder, kind: 'normal', runId: null, reason: RESTORE_POINT_REASON },
    // named after the patch run: what a worker killed mid-write leaves is that run's, swept once it is closed
    tempName: (c, random) => restorePointTempName(c, random, deps.runId),
  });
  if (r.generationId === undefined) throw new RestorePointError('the backup recorded no generation');
  const g = await generationById(pool, r.generationId);
  if (!g || !(await verify(deps, g.id, g.file))) throw new RestorePointError(`the new archive of ${code} did not verify`);
  return g.id;
}

/** The lease first (retention skips it from then on), the ledger's restore point with it, one transaction. */
async function leaseAndRecord(deps: RestorePointDeps, code: string, id: number, kind: 'taken' | 'reused'): Promise<boolean> {
  return withTransaction(deps.pool, async (c) => {
    if (!(await takeGenerationLease(c, id, restorePointHolder(deps.runId), RESTORE_POINT_LEASE_SECONDS))) return false;
    // thrown: the transaction rolls the lease back with it
    if (!(await recordRestorePoint(c, deps.runId, code, id, kind))) throw new RestorePointError(`the run's ledger row of ${code} is not pending (run closed?)`);
    return true;
  });
}

/**
 * The run's end (R-PI-11): removes the temporary files of restore points (restorePointTempName) whose patch run is
 * closed, this one's and those of runs closed as abandoned: what a worker killed mid-write left, which no retry
 * publishes. A running run's are kept (its attempt may be writing them), and so are every other writer's (a batch's, a
 * single backup's: not this name). A closed run's late attempt, if one still writes, fails to publish: its work is
 * refused anyway. What was removed.
 */
export async function sweepRestorePointTemps(deps: Omit<RestorePointDeps, 'runId'>): Promise<string[]> {
  const folder = (await loadBackupSettings(deps.pool, deps.config, deps.target)).settings.folder;
  const names = await fs.promises.readdir(folder).catch(() => [] as string[]);
  const temps = names.flatMap((name) => {
    const t = parseRestorePointTempName(name);
    return t ? [{ file: path.join(folder, name), runId: t.patchRunId }] : [];
  });
  const closed = await closedRunIds(deps.pool, [...new Set(temps.map((t) => t.runId))]);
  const removed: string[] = [];
  for (const t of temps) {
    if (!closed.has(t.runId)) continue;
    await fs.promises.rm(t.file, { force: true }).then(
      () => removed.push(t.file),
      () => undefined,
    );
  }
  return removed;
}
