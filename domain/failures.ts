import { ApplicationFailure } from '@temporalio/common';

/**
 * Named failure types. Permanent problems are non-retryable ApplicationFailures with one of these
 * types; transient ones (dropped connection, refused SMTP) are thrown plainly and retried.
 */
export const FailureType = {
  InvalidInput: 'InvalidInput',
  UnknownTarget: 'UnknownTarget',
  UnknownDossier: 'UnknownDossier',
  /** a registered dossier whose schema is not in the database (dropped by hand): nothing to archive, never an empty archive */
  DossierSchemaMissing: 'DossierSchemaMissing',
  DossierExists: 'DossierExists',
  DossierInUse: 'DossierInUse',
  SupervisorConflict: 'SupervisorConflict',
  ArchiveInvalid: 'ArchiveInvalid',
  /** an encrypted archive whose key is not given (or no keys at all), or a current key id that names no key */
  BackupKeyMissing: 'BackupKeyMissing',
  /** the key given under the archive's key id is not the one it was written with */
  BackupKeyWrong: 'BackupKeyWrong',
  UnsupportedObject: 'UnsupportedObject',
  DestinationUnwritable: 'DestinationUnwritable',
  MaintenanceWindowExists: 'MaintenanceWindowExists',
  /** `maintenance schedule` gave up on a window no worker picked up in time (it said so): picked up later, it ends at once, doing nothing */
  MaintenanceWindowWithdrawn: 'MaintenanceWindowWithdrawn',
  PayloadUnavailable: 'PayloadUnavailable',
  PostCheckFailed: 'PostCheckFailed',
  DbDrainRefused: 'DbDrainRefused',
  BackupAlreadyRunning: 'BackupAlreadyRunning',
  /** a backup batch refused while a patch run or a rollback changes the target's dossiers (R-PI-2: never archives at mixed levels) */
  BackupDuringPatchRun: 'BackupDuringPatchRun',
  /** the backup folder itself is full or unwritable (ENOSPC, EDQUOT, EROFS, EACCES): the batch stops at once */
  DestinationUnavailable: 'DestinationUnavailable',
  /** a run row closed (failed, abandoned) while its workflow still worked: its late results are refused (R-BK-1) */
  BackupRunClosed: 'BackupRunClosed',
  /** the batch run's ledger has the dossier already: this attempt was superseded (its worker cut off, then back) and does not back it up again (R-BK-1) */
  DossierDoneInRun: 'DossierDoneInRun',
  /** a patch run row closed (abandoned) while its workflow still worked: its late results are refused */
  PatchRunClosed: 'PatchRunClosed',
  /** a backup batch run as a window's payload could not run to its end */
  BackupRunFailed: 'BackupRunFailed',
  /** a backup batch run as a window's payload ended partial or failed (some dossiers not backed up) */
  BackupRunIncomplete: 'BackupRunIncomplete',
  PatchPackageInvalid: 'PatchPackageInvalid',
  PatchStrayFiles: 'PatchStrayFiles',
  PatchNumbering: 'PatchNumbering',
  PatchChecksumMismatch: 'PatchChecksumMismatch',
  /** R-PI-8: a patch already applied (or stored) under another checksum */
  ChecksumDrift: 'ChecksumDrift',
  PatchGap: 'PatchGap',
  PatchSqlFailed: 'PatchSqlFailed',
  PatchPrerequisiteFailed: 'PatchPrerequisiteFailed',
  PatchSupervisorFailed: 'PatchSupervisorFailed',
  PatchNothingToDo: 'PatchNothingToDo',
  /** R-PI-4: a retry refused because the supervisor is below the run's patches (rolled back since): it would leave dossiers above it */
  PatchSupervisorBehind: 'PatchSupervisorBehind',
  PatchRunFailed: 'PatchRunFailed',
  PatchRunPartial: 'PatchRunPartial',
  /** R-PI-11 rollback: refused outside single-user mode (R-PI-2) or while another run works */
  RollbackPrerequisiteFailed: 'RollbackPrerequisiteFailed',
  /** R-PI-11: no restore point to roll a dossier back to (nothing changed) */
  NoRestorePoint: 'NoRestorePoint',
  /** a rollback ended with dossiers not rolled back: its workflow fails with the whole result in details[0] */
  RollbackRunPartial: 'RollbackRunPartial',
  /** a rollback run row closed (abandoned) while its workflow still worked */
  RollbackRunClosed: 'RollbackRunClosed',
  /** a bulk restore run refused: a backup batch, a patch run, a rollback or another restore run works on the target */
  RestorePrerequisiteFailed: 'RestorePrerequisiteFailed',
  /** a bulk restore run ended with dossiers not restored: its workflow fails with the whole result in details[0] */
  RestoreRunPartial: 'RestoreRunPartial',
  /** a restore run row closed (abandoned) while its workflow still worked */
  RestoreRunClosed: 'RestoreRunClosed',
  /** R-PI-11: a dossier's restore point could not be taken (in use, folder full, corrupt): the dossier is not patched */
  RestorePointFailed: 'RestorePointFailed',
  /** a backup batch ended with dossiers not backed up: its workflow fails with the whole result in details[0] */
  BackupBatchPartial: 'BackupBatchPartial',
  /** a verification of kept generations found a problem (corrupt, missing, unreadable): its workflow fails with the result in details[0] (R-BK-13) */
  BackupVerifyProblems: 'BackupVerifyProblems',
  /** a prune by retention ended with dossiers it could not prune (a file not removed, a bucket that refused): its workflow fails with the result in details[0] (R-BK-11) */
  BackupPrunePartial: 'BackupPrunePartial',
  /** off-site copies asked for, but no NIGHTSHIFT_OFFSITE_S3_BUCKET (or the secret key file unreadable) */
  OffsiteNotConfigured: 'OffsiteNotConfigured',
  /** the object storage refused the credentials (unknown key, bad signature, access denied) */
  OffsiteCredentialsRejected: 'OffsiteCredentialsRejected',
  OffsiteBucketMissing: 'OffsiteBucketMissing',
  /** the local archive to copy is gone */
  OffsiteSourceMissing: 'OffsiteSourceMissing',
  /** retryable: the storage is unreachable, reset the connection, answered 5xx, or stored something else than was sent */
  OffsiteUnavailable: 'OffsiteUnavailable',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export function permanentFailure(type: FailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? undefined : [details] });
}

/** A registered dossier whose schema is gone: not backed up (an empty archive would pass for its backup), its archives named. */
export const schemaMissingMessage = (code: string, schema: string): string =>
  `the schema ${schema} of dossier ${code} is not in the database (dropped?): nothing was backed up and its archives are kept; ` +
  `'nightshift backup list ${code}' shows them, 'nightshift backup restore ${code} --at DATE --replace' brings one back`;

/** R-BK-3: the seed's exact text for a dossier in use. */
export const DOSSIER_IN_USE_MESSAGE =
  'Echec du traitement. Les données concernées sont utilisées par un utilisateur. Ce ou ces utilisateurs doivent fermer les fenêtres ouvertes.';

export function failureTypeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const t = (e as { type?: unknown }).type;
    if (typeof t === 'string') return t;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What a run closed as abandoned says: its workflow's status as Temporal gave it (`TIMED_OUT` → "timed out"). */
export function abandonedNote(workflowStatus: string): string {
  return `abandoned: its workflow is ${workflowStatus.toLowerCase().replace('_', ' ')}`;
}

/** An activity failure's own message says what went wrong; the wrappers' do not. */
export function innermostMessage(err: unknown): string {
  let e: unknown = err;
  let msg = err instanceof Error ? err.message : String(err);
  for (let i = 0; i < 5 && e instanceof Error && e.cause; i++) {
    e = e.cause;
    if (e instanceof Error && e.message) msg = e.message;
  }
  return msg;
}
