import { type ActivityOptions, ApplicationFailure, isCancellation, patched, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import {
  BACKUP_KIND,
  type BackupDossierInput,
  type BackupDossierResult,
  type BackupOffsiteCopy,
  type BackupPhase,
  type BackupProgress,
  RESTORE_KIND,
  type RestoreDossierInput,
  type RestoreDossierResult,
  backupPhaseQuery,
  backupProgressQuery,
} from './backup-dossier.api';
import { codeSpan, escapeMarkdown, oneLine } from '../domain/run-details';
import { FailureType, failureTypeOf } from '../domain/failures';
import { restoreRealignedText } from '../domain/patch-repair';
import { type NightshiftKindValue, nightshiftAttributes, phaseAttribute } from './search-attributes';

/**
 * One dossier backed up into B{code}.SVG, or one archive restored (R-BK-3, R-BK-5, R-BK-6). The
 * work is one long activity (one snapshot, one file); the workflow gives it durable retries and
 * makes its progress visible: phase query, current details and search attributes in the Web UI.
 */

export const ACTIVITY_OPTIONS = {
  /** Streams a whole dossier: long, so liveness comes from heartbeats (the activity beats every 5 s). */
  archive: {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
  },
  /**
   * One archive to the bucket (R-BK-14): a large one is a long multipart upload, so liveness from heartbeats. The
   * storage's own failures are the activity's answer (tried 3 times inside it); only the database's are retried here.
   */
  offsiteCopy: {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
  },
} as const satisfies Record<string, ActivityOptions>;

const { backupDossier, restoreDossier, copyBackupOffsite } = proxyActivities<NightshiftActivities>(ACTIVITY_OPTIONS.archive);

/** Runs started before single-dossier backups were copied off-site replay without the copy (R-BK-14). */
export const OFFSITE_COPY_PATCH = 'backup-dossier-offsite-copy';

function tracker(kind: NightshiftKindValue, target: string, code: string, detail: string) {
  let progress: BackupProgress = { phase: 'starting', detail };
  setHandler(backupProgressQuery, () => progress);
  setHandler(backupPhaseQuery, () => progress.phase);
  setCurrentDetails(detail);
  upsertSearchAttributes(nightshiftAttributes({ target, kind, dossier: code, phase: progress.phase }));
  return (phase: BackupPhase, next: string) => {
    progress = { phase, detail: next };
    setCurrentDetails(next);
    upsertSearchAttributes(phaseAttribute(phase));
  };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
}

export async function backupDossierWorkflow(input: BackupDossierInput): Promise<BackupDossierResult> {
  const file = `B${input.code}.SVG`;
  const phase = tracker(BACKUP_KIND, input.target, input.code, `Back up dossier ${input.code} (${input.reason})`);
  phase('writing', `Writing ${file} from one snapshot of dossier ${input.code}`);
  try {
    const result = await backupDossier.executeWithOptions({ ...ACTIVITY_OPTIONS.archive, summary: `write ${file}` }, [input]);
    const wrote = `Wrote ${result.file}: ${result.tables} tables, ${result.rows} rows, ${result.documents} documents, ${result.bytes} bytes`;
    const offsite = result.generationId !== undefined && patched(OFFSITE_COPY_PATCH) ? await copyOffsite(input, result.generationId, phase, wrote) : undefined;
    phase('done', offsite ? `${wrote}\n\n${offsiteText(offsite)}` : wrote);
    return offsite ? { ...result, offsite } : result;
  } catch (err) {
    const retry = `nightshift backup dossier ${input.code} --target ${input.target}${input.reason !== 'manual' ? ` --reason ${input.reason}` : ''}`;
    phase('failed', `Backup of dossier ${escapeMarkdown(input.code)} failed: ${escapeMarkdown(oneLine(reasonOf(err), 500))}\n\nOnce fixed, back it up again: ${codeSpan(retry)}`);
    throw err;
  }
}

/**
 * R-BK-14: the generation just written, copied off-site as the batch copies its own (undefined: the worker has no
 * bucket). A copy that cannot be made does not undo the backup: the generation stays, recorded `failed`.
 */
async function copyOffsite(input: BackupDossierInput, generationId: number, phase: ReturnType<typeof tracker>, wrote: string): Promise<BackupOffsiteCopy | undefined> {
  phase('copying', `${wrote}\n\nCopying it off-site, if the worker has a bucket`);
  try {
    return await copyBackupOffsite.executeWithOptions({ ...ACTIVITY_OPTIONS.offsiteCopy, summary: `copy B${input.code}.SVG off-site` }, [{ target: input.target, generationId }]);
  } catch (err) {
    if (isCancellation(err)) throw err;
    // its state could not be recorded (the database, over every attempt): the generation may still say `none`
    return { state: 'failed', error: `off-site copy failed: ${reasonOf(err)}` };
  }
}

function offsiteText(c: BackupOffsiteCopy): string {
  return c.state === 'copied' ? `Copied off-site to ${escapeMarkdown(`${c.bucket}/${c.key}`)}` : `${escapeMarkdown(oneLine(c.error, 500))}: the backup is kept, the next backup batch copies it first`;
}

export async function restoreDossierWorkflow(input: RestoreDossierInput): Promise<RestoreDossierResult> {
  const code = input.as ?? '(archive code)';
  const phase = tracker(RESTORE_KIND, input.target, input.as ?? '', `Restore ${input.file}${input.as ? ` as ${input.as}` : ''}`);
  const source = input.from === 'offsite' ? ' from its off-site copy' : input.generationId !== undefined && input.from !== 'local' ? ' (its off-site copy if the file is not on the worker)' : '';
  phase('restoring', `Restoring ${input.file}${source} into dossier ${code}${input.replace ? ' (replace)' : ''}, in one transaction`);
  try {
    const result = await restoreDossier.executeWithOptions({ ...ACTIVITY_OPTIONS.archive, summary: `restore ${code}` }, [input]);
    const read = result.offsiteCopy ? ` from the off-site copy ${result.offsiteCopy.bucket}/${result.offsiteCopy.key}` : '';
    phase('done', `Restored dossier ${result.code}${read}: ${result.tables} tables, ${result.rows} rows, ${result.documents} documents${restoreRealignedText(result.ledgerRealigned)}`);
    return result;
  } catch (err) {
    if (failureTypeOf(err) === FailureType.OffsiteUnavailable) {
      // the copy could not be read over the activity's attempts (~2.5 minutes): nothing is wrong with the archive
      const again = `${reasonOf(err)}. Nothing was restored; once the storage answers, run the same restore again`;
      phase('failed', `Restore of ${escapeMarkdown(input.file)} failed: ${escapeMarkdown(oneLine(again, 700))}`);
      throw ApplicationFailure.create({ type: FailureType.OffsiteUnavailable, message: again, nonRetryable: true });
    }
    phase('failed', `Restore of ${escapeMarkdown(input.file)} failed: ${escapeMarkdown(oneLine(reasonOf(err), 500))}\n\n${restoreAdvice(failureTypeOf(err), input.file)}`);
    throw err;
  }
}

/**
 * What to do after a single restore failed, by its failure's type: the archive checked only when the archive is what
 * failed (drill W, session 40: a dossier in use, R-BK-3, was told to check a sound archive).
 */
function restoreAdvice(type: string | undefined, file: string): string {
  if (type === FailureType.ArchiveInvalid || type === FailureType.UnsupportedObject) return `Check the archive: ${codeSpan(`nightshift backup restore ${file} --verify-only`)}`;
  if (type === FailureType.DossierInUse) return 'Nothing was restored. Once its users have left the dossier (R-BK-3), run the same restore again';
  if (type === FailureType.BackupKeyMissing || type === FailureType.BackupKeyWrong) return 'Nothing was restored. Give the worker the key the archive names (NIGHTSHIFT_BACKUP_KEYS_FILE), then run the same restore again';
  return 'Nothing was restored. Once the cause is mended, run the same restore again';
}
