import path from 'node:path';
import { Context } from '@temporalio/activity';
import { parseInput } from '../domain/validation';
import { REASON_FOLDERS, backupDossierInputSchema, destinationSegments, restoreDossierInputSchema } from '../domain/backup';
import type { BackupDossierInput, BackupDossierResult, RestoreDossierInput, RestoreDossierResult } from '../workflows/backup-dossier.api';
import { type Progress, backupDossierArchive, restoreDossierArchive } from '../archive/engine';
import { loadBackupKeyring } from '../archive/keys';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { assertBackupStore } from '../shared-store/marker';
import type { ActivityDeps } from './deps';
import { documentsFolder } from '../registry/documents';
import { FailureType, permanentFailure } from '../domain/failures';
import { generationById } from '../store/generations/generation-by-id';
import { releaseGenerationLease, takeGenerationLease } from '../store/generations/lease';

/**
 * Single-dossier backup and restore activities (R-BK-3, R-BK-5, R-BK-6, R-BK-9) over the archive engine;
 * archives are encrypted with the operator's current key when one is given (issue 13.2).
 */


const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Heartbeats the latest progress on a timer (also through silent phases such as fsync), and hands
 * the activity's cancellation signal to the engine. Outside an activity (bench, scripts) it does nothing.
 */
async function withHeartbeat<T>(work: (onProgress: (p: Progress) => void, signal?: AbortSignal) => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined;
  }
  let last: Progress = { detail: 'starting', rows: 0, bytes: 0 };
  ctx?.heartbeat(last);
  const timer = ctx ? setInterval(() => ctx.heartbeat(last), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await work((p) => (last = p), ctx?.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** Lease time of a generation being read; renewed well before it runs out while the restore goes on. */
const LEASE_SECONDS = 600;
const LEASE_RENEW_MS = 60_000;

/**
 * Reads a generation under a lease (R-BK-11): a prune skips it until the lease is released or runs out (a
 * worker killed mid-restore: 10 minutes). A generation pruned before the lease is taken is refused, clearly.
 */
async function withGenerationLease<T>(pool: Parameters<typeof takeGenerationLease>[0], id: number, file: string, work: () => Promise<T>): Promise<T> {
  const g = await generationById(pool, id);
  let holder = `restore:${process.pid}:${id}`;
  try {
    const info = Context.current().info;
    holder = `restore:${info.workflowExecution?.workflowId ?? process.pid}:${info.activityId}`;
  } catch {
    // outside an activity: this process's holder
  }
  const gone = () => permanentFailure(FailureType.InvalidInput, `generation ${id} of dossier ${g?.code ?? '?'} is no longer kept (pruned by retention): choose another with 'nightshift backup list ${g?.code ?? 'CODE'} --all'`);
  if (!g || g.deletedAt !== null) throw gone();
  if (g.file !== file) throw permanentFailure(FailureType.InvalidInput, `generation ${id} is the file ${g.file}, not ${file}`);
  if (!(await takeGenerationLease(pool, id, holder, LEASE_SECONDS))) throw gone();
  const renew = setInterval(() => void takeGenerationLease(pool, id, holder, LEASE_SECONDS).catch(() => {}), LEASE_RENEW_MS);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await releaseGenerationLease(pool, id, holder).catch(() => {});
  }
}

export function createBackupActivities({ config, pools }: ActivityDeps) {
  return {
    /** Backs one dossier up into B{code}.SVG in the folder its reason and the date sub-folder setting give. */
    async backupDossier(raw: BackupDossierInput): Promise<BackupDossierResult> {
      const input = parseInput(backupDossierInputSchema, raw);
      const pool = pools.get(input.target);
      const today = new Date();
      // R-BK-9: the folder as the batch resolves it (local > common > default), not only this machine's value
      const { settings } = await loadBackupSettings(pool, config);
      await assertBackupStore(pool, input.target, settings.folder);
      const reasonFolder = REASON_FOLDERS[input.reason];
      const destinationDir = path.join(
        settings.folder,
        ...destinationSegments(input.reason, input.dateSubfolder, { year: today.getFullYear(), month: today.getMonth() + 1, day: today.getDate() }),
      );
      return withHeartbeat((onProgress, signal) =>
        backupDossierArchive({
          pool,
          target: input.target,
          code: input.code,
          destinationDir,
          documentsFolder: input.includeDocuments ? documentsFolder(config.documentsDir, input.target, input.code) : undefined,
          fileMode: config.backupFileMode,
          keys: loadBackupKeyring(config.backupKeys),
          plainOnPurpose: config.backupKeys.plainOnPurpose,
          onProgress,
          signal,
          generation: {
            kindRoot: reasonFolder ? path.join(settings.folder, reasonFolder) : settings.folder,
            kind: reasonFolder === 'EchangePrest' || reasonFolder === 'Cloture' ? reasonFolder : 'normal',
            runId: null,
            reason: input.reason,
          },
        }),
      );
    },

    /** Restores an archive into a dossier (the archive's code, or `as`), all or nothing. */
    async restoreDossier(raw: RestoreDossierInput): Promise<RestoreDossierResult> {
      const input = parseInput(restoreDossierInputSchema, raw);
      const pool = pools.get(input.target);
      const restore = () =>
        withHeartbeat((onProgress, signal) =>
          restoreDossierArchive({
            pool,
            target: input.target,
            file: input.file,
            as: input.as,
            replace: input.replace,
            documentsDir: config.documentsDir,
            keys: loadBackupKeyring(config.backupKeys),
            onProgress,
            signal,
          }),
        );
      if (input.generationId === undefined) return restore();
      return withGenerationLease(pool, input.generationId, input.file, restore);
    },
  };
}
