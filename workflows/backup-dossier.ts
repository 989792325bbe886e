import { type ActivityOptions, ApplicationFailure, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import {
  BACKUP_KIND,
  type BackupDossierInput,
  type BackupDossierResult,
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
} as const satisfies Record<string, ActivityOptions>;

const { backupDossier, restoreDossier } = proxyActivities<NightshiftActivities>(ACTIVITY_OPTIONS.archive);

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
    phase('done', `Wrote ${result.file}: ${result.tables} tables, ${result.rows} rows, ${result.documents} documents, ${result.bytes} bytes`);
    return result;
  } catch (err) {
    const retry = `nightshift backup dossier ${input.code} --target ${input.target}${input.reason !== 'manual' ? ` --reason ${input.reason}` : ''}`;
    phase('failed', `Backup of dossier ${escapeMarkdown(input.code)} failed: ${escapeMarkdown(oneLine(reasonOf(err), 500))}\n\nOnce fixed, back it up again: ${codeSpan(retry)}`);
    throw err;
  }
}

export async function restoreDossierWorkflow(input: RestoreDossierInput): Promise<RestoreDossierResult> {
  const code = input.as ?? '(archive code)';
  const phase = tracker(RESTORE_KIND, input.target, input.as ?? '', `Restore ${input.file}${input.as ? ` as ${input.as}` : ''}`);
  const source = input.from === 'offsite' ? ' from its off-site copy' : input.generationId !== undefined && input.from !== 'local' ? ' (its off-site copy if the file is not on the worker)' : '';
  phase('restoring', `Restoring ${input.file}${source} into dossier ${code}${input.replace ? ' (replace)' : ''}, in one transaction`);
  try {
    const result = await restoreDossier.executeWithOptions({ ...ACTIVITY_OPTIONS.archive, summary: `restore ${code}` }, [input]);
    const read = result.offsiteCopy ? ` from the off-site copy ${result.offsiteCopy.bucket}/${result.offsiteCopy.key}` : '';
    phase('done', `Restored dossier ${result.code}${read}: ${result.tables} tables, ${result.rows} rows, ${result.documents} documents`);
    return result;
  } catch (err) {
    if (failureTypeOf(err) === FailureType.OffsiteUnavailable) {
      // the copy could not be read over the activity's attempts (~2.5 minutes): nothing is wrong with the archive
      const again = `${reasonOf(err)}. Nothing was restored; once the storage answers, run the same restore again`;
      phase('failed', `Restore of ${escapeMarkdown(input.file)} failed: ${escapeMarkdown(oneLine(again, 700))}`);
      throw ApplicationFailure.create({ type: FailureType.OffsiteUnavailable, message: again, nonRetryable: true });
    }
    phase('failed', `Restore of ${escapeMarkdown(input.file)} failed: ${escapeMarkdown(oneLine(reasonOf(err), 500))}\n\nCheck the archive: ${codeSpan(`nightshift backup restore ${input.file} --verify-only`)}`);
    throw err;
  }
}
