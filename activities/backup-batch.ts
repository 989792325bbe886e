import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { z } from 'zod';
import { destinationSegments } from '../domain/backup';
import {
  BACKUP_ALREADY_RUNNING,
  DESTINATION_ERRNOS,
  type DestinationErrno,
  FAILED_LIST_FILE_NAME,
  IN_USE_ERROR_TEXT,
  type ItemStatus,
  MAIL_BODY,
  REPORT_EOL,
  REPORT_FOLDER,
  type SelectionCursor,
  copyStatusesFor,
  destinationStopText,
  firstCursor,
  itemErrorText,
  localDateTime,
  mailSubject,
  nextPhase,
  notDoneErrorText,
  ENDED_CANCELLED,
  ENDED_EARLY,
  reportFileName,
  reportLine,
  reportSummaryLines,
  batchAccount,
  notDoneReason,
  reportNotDoneLine,
  reportStopReason,
  runState,
  batchBesideWorkText,
} from '../domain/backup-batch';
import { archiveFileName, dossierCodeSchema, parseArchiveTempName } from '../domain/dossier';
import { backupBatchInputSchema } from '../domain/backup-batch-input';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { FailureType, failureTypeOf, permanentFailure } from '../domain/failures';
import type { BackupBatchInput, BackupBatchResult, BackupRunState, BatchDossierSettings } from '../workflows/backup-batch.api';
import { backupDossierArchive } from '../archive/engine';
import { keysNotGiven, loadBackupKeyring, requireKeyWhereEncrypted } from '../archive/keys';
import { mayStillRun, workflowStatus } from '../workers/resources';
import type { ActivityDeps } from './deps';
import { documentsFolder } from '../registry/documents';
import { closeAbandonedRun } from '../store/backup/close-abandoned-run';
import { takeClaimLock } from '../store/backup/claim-lock';
import { runningPatchWork } from '../store/backup/running-patch-work';
import { reportNameTaken } from '../store/backup/report-name-taken';
import { closeRun } from '../store/backup/close-run';
import { codesInLedger } from '../store/backup/codes-in-ledger';
import { countSelection } from '../store/backup/count-selection';
import { failedCodesPage } from '../store/backup/failed-codes-page';
import { insertRun } from '../store/backup/insert-run';
import { latestFinishedRunId } from '../store/backup/latest-finished-run-id';
import { markMailFailed } from '../store/backup/mark-mail-failed';
import { markMailSent } from '../store/backup/mark-mail-sent';
import { noteLateWorkRefused } from '../store/backup/note-late-work-refused';
import { recordItem } from '../store/backup/record-item';
import { recordNotDone } from '../store/backup/record-not-done';
import { recordNotDoneSelection } from '../store/backup/record-not-done-selection';
import { reportPage } from '../store/backup/report-page';
import { runById } from '../store/backup/run-by-id';
import { runByRef } from '../store/backup/run-by-ref';
import type { BackupRunRow, BackupRunSettings } from '../store/backup/run-row';
import { runningRuns } from '../store/backup/running-runs';
import { selectPage } from '../store/backup/select-page';
import type { BackupRunKind } from '../store/backup/selection-sql';
import { setRunNote } from '../store/backup/set-run-note';
import { setSelected } from '../store/backup/set-selected';
import { setStopReason } from '../store/backup/set-stop-reason';
import { touchRun } from '../store/backup/touch-run';
import { begin, commit, rollback } from '../store/backup/transaction';
import { latestFailures } from '../store/backup/latest-failures';
import { runProgress } from '../store/backup/run-progress';
import { runItemCounts } from '../store/backup/run-item-counts';
import { notDoneError } from '../store/backup/not-done-reason';
import { DETAILS_FAILURES_SHOWN, FAILURES_CAP, type FanOutChunkResult, type FanOutLedgerView, capFailures } from '../domain/run-details';
import { backupRetryCommand } from '../workflows/backup-batch.api';
import { type DossierOutcome, dossiersInFlight, runChunk } from './fan-out';
import { writeRunReport } from './report-file';
import { copyCutShortText, copyGenerationOffsite, generationToCopy, olderCopyFailedText, type StorageHealth } from './offsite';
import { failedOffsiteCopies } from '../store/generations/failed-offsite-copies';
import { runGenerationCount } from '../store/generations/run-generation-count';
import { runGeneration } from '../store/generations/run-generation';
import { type Generation, GENERATIONS_FOLDER } from '../domain/generation';
import { lazyOffsiteStore } from '../offsite/lazy';
import type { OffsiteStore } from '../offsite/store';
import { assertBackupStore, inspectSharedFolder, refusalLine } from '../shared-store/marker';
import { operatorDateTime } from '../domain/retention';

/**
 * The backup batch of modified dossiers (R-BK-1 .. R-BK-9) over the single-dossier engine: the run
 * ledger (claim, selection pages, one row per dossier), chunks of dossiers backed up with a small
 * concurrency, the report streamed from the ledger, and the report mail.
 */

/** The ledger's run row, with the kind and state this code writes. */
type RunRow = BackupRunRow & { kind: BackupRunKind; state: BackupRunState };
type RunSettings = BackupRunSettings;

export interface ClaimResult {
  runId: number;
  settings: BatchDossierSettings;
  cursor: SelectionCursor;
  selected: number;
  previousRun: number | null;
}

export interface ChunkInput {
  target: string;
  runId: number;
  codes: string[];
  settings: BatchDossierSettings;
  concurrency: number;
  timeBudgetMs: number;
}

/**
 * The fan-out engine's chunk result (counts by ledger status, `failed` = every status but ok, capped
 * failures, `remaining` not started within the time budget), with the in-use count apart (R-BK-3) and the
 * retry command when a dossier was not backed up.
 */
export interface ChunkResult extends FanOutChunkResult {
  inUse: number;
  retryCommand: string | null;
}

/** What the run's end gives the workflow: its result but for what the workflow already knows. */
export type FinishResult = Omit<BackupBatchResult, 'target' | 'runId'> & {
  /** generations the run wrote (a partial run may have written some: the batch verifies them too); absent before 2026-12-04 */
  written?: number;
};

/** Transient per-dossier errors (a dropped connection) get this many tries inside the chunk. */
const DOSSIER_ATTEMPTS = 3;

/**
 * The errno of an error of the destination itself (full, quota, read-only, permission on the folder),
 * or undefined. EACCES/EPERM count only on the destination (a document that cannot be read is that
 * dossier's own problem); the engine reports a folder it cannot create a file in as DestinationUnwritable.
 */
export function destinationErrno(err: unknown, destinationDir: string, dossier?: string): DestinationErrno | undefined {
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const o = e as { code?: unknown; path?: unknown; dest?: unknown; type?: unknown; message?: unknown };
    const code = typeof o.code === 'string' ? o.code : undefined;
    if (code && (DESTINATION_ERRNOS as readonly string[]).includes(code)) {
      // a link or copy names its source (path) and its target (dest): the target is where it could not write
      const where = typeof o.dest === 'string' ? o.dest : o.path;
      // the dossier's own generations folder refused (its permissions, an immutable flag): that dossier's failure, not
      // the destination's (drill K, session 39: one such folder stopped the batch, blaming the whole backup folder)
      if ((code === 'EACCES' || code === 'EPERM') && dossier !== undefined && typeof where === 'string' && inGenerationsOf(where, dossier)) return undefined;
      const rel = typeof where === 'string' ? path.relative(path.resolve(destinationDir), path.resolve(where)) : '';
      const onDestination = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
      if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || onDestination) return code as DestinationErrno;
    }
    if (o.type === FailureType.DestinationUnwritable && typeof o.message === 'string') {
      const m = /: (E[A-Z]+)$/.exec(o.message);
      if (m && (DESTINATION_ERRNOS as readonly string[]).includes(m[1]!)) return m[1] as DestinationErrno;
    }
    e = (o as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether `p` is in a dossier's own generations folder (`…/generations/<CODE>/…`, archive/generations.ts generationsDir). */
function inGenerationsOf(p: string, code: string): boolean {
  const parts = path.resolve(p).split(path.sep);
  return parts.some((part, i) => part === GENERATIONS_FOLDER && parts[i + 1] === code);
}

/** The ledger item of the run's generation of a dossier, taken as it is (written by the run's other attempt): its seed-layout name. */
function takenItem(g: Generation): { status: ItemStatus; error: null; file: string; size: number } {
  return { status: 'ok', error: null, file: g.links[0] ?? g.file, size: g.size };
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

export interface BackupBatchHooks {
  /** tests: called before each dossier's backup (to slow a batch down before a SIGKILL) */
  beforeDossier?: (code: string) => Promise<void>;
  /** tests: called once a dossier's backup is recorded, before anything else of its step (a SIGKILL there: R-BK-1) */
  afterBackupRecorded?: (code: string) => Promise<void>;
  /** tests: the off-site store (default: NIGHTSHIFT_OFFSITE_S3_* of this worker, built on first use) */
  offsiteStore?: () => Promise<OffsiteStore | undefined>;
}

/** The chunk's activity was cancelled because its batch was (its workflow cancelled it): not a worker shutting down, nor a timeout. */
function batchCancelled(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && (signal.reason as { message?: unknown } | undefined)?.message === 'CANCELLED';
}

/** A dossier of a run that copies off-site, given to a worker with no off-site storage (R-BK-14). */
function noOffsiteHereText(runId: number): string {
  return (
    `not backed up by worker ${os.hostname()}: backup run ${runId} copies off-site (the worker that started it has a bucket) and this worker has no ` +
    'off-site storage (NIGHTSHIFT_OFFSITE_S3_BUCKET unset): give every worker the same NIGHTSHIFT_OFFSITE_* settings, then retry the run'
  );
}

export function createBackupBatchActivities({ config, pools, mail, temporal }: ActivityDeps, hooks: BackupBatchHooks = {}) {
  /** runs whose destination stopped them, seen by this process: the other chunks in flight here stop before their next dossier */
  const stoppedRuns = new Map<number, DestinationErrno>();
  /** R-BK-14: off-site copies are on when this worker has a bucket (NIGHTSHIFT_OFFSITE_S3_BUCKET); the store is built on first use */
  const offsiteStore = hooks.offsiteStore ?? lazyOffsiteStore(config.offsite);
  const offsiteOn = hooks.offsiteStore !== undefined || config.offsite !== undefined;
  /** per run seen by this process: a storage that is away fails the run's next copies at once for a while */
  const offsiteHealth = new Map<number, StorageHealth>();

  async function getRun(pool: pg.Pool, runId: number): Promise<RunRow> {
    const run = (await runById(pool, runId)) as RunRow | undefined;
    if (!run) throw permanentFailure(FailureType.InvalidInput, `unknown backup run ${runId}`);
    return run;
  }

  function alreadyRunning(run: { id: string; workflow_id: string; started_at: Date }, status?: string): ApplicationFailure {
    const why = status === 'UNKNOWN' ? ' (Temporal did not say whether its workflow still runs)' : '';
    return ApplicationFailure.create({
      type: BACKUP_ALREADY_RUNNING,
      nonRetryable: true,
      message: `backup run ${run.id} (${run.workflow_id}) is already running since ${operatorDateTime(run.started_at, config.timeZone)} (${config.timeZone})${why}: one batch per target at a time (R-BK-1)`,
    });
  }

  /** The run was closed (taken over as abandoned, failed) while this workflow still worked on it: its late work is refused. */
  async function runClosed(pool: pg.Pool, runId: number): Promise<ApplicationFailure> {
    const run = await getRun(pool, runId);
    const at = new Date().toISOString();
    await noteLateWorkRefused(pool, runId, `late work of its workflow refused at ${at}`);
    return permanentFailure(
      FailureType.BackupRunClosed,
      `backup run ${run.id} (${run.workflow_id}) was closed as ${run.state}${run.note ? ` (${run.note})` : ''} while its workflow still worked on it: ` +
        'its late results are refused, the run stays as it was closed (R-BK-1)',
    );
  }

  /**
   * Removes temporary archive files (archiveTempName) that `which` names: what a killed attempt left. A
   * writer still at work on one (an attempt superseded while cut off) then fails to publish it: nothing is lost.
   */
  async function removeStaleTemps(dir: string, which: (t: { code: string; runId?: number }) => boolean): Promise<void> {
    let names: string[];
    try {
      names = await fs.promises.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const t = parseArchiveTempName(name);
      if (t && which(t)) await fs.promises.rm(path.join(dir, name), { force: true });
    }
  }

  /** The newest failures of a run (capped) and its retry command, for the result. */
  async function failuresOf(pool: pg.Pool, runId: number, target: string, failed: number): Promise<Pick<FinishResult, 'failures' | 'failuresTotal' | 'retryCommand'>> {
    if (!failed) return { failures: [], failuresTotal: 0, retryCommand: null };
    const failures = capFailures((await latestFailures(pool, runId, FAILURES_CAP)).map((f) => ({ ...f, error: f.error ?? '' })));
    return { failures, failuresTotal: failed, retryCommand: backupRetryCommand(target, runId) };
  }

  async function writeReport(pool: pg.Pool, target: string, run: RunRow, stopReason: string | null): Promise<{ file: string; ok: number; failed: number; counts: Record<string, number> }> {
    // R-BK-7's name; a run started in the same local second as another's (the hour clocks repeat) gets its number too
    const seedName = reportFileName(localDateTime(run.started_at, config.timeZone));
    const name = (await reportNameTaken(pool, Number(run.id), seedName)) ? reportFileName(localDateTime(run.started_at, config.timeZone), Number(run.id)) : seedName;
    // a backup folder that is not the shared store (a share unmounted: the empty mount point) is not written into: the
    // report there would be on the local disk, hidden once the share is back, and would change the next run's diagnosis
    const store = await inspectSharedFolder(pool, 'backups', path.dirname(run.settings.reportFolder));
    const refused = store.state === 'refused' ? refusalLine(target, store) : undefined;
    const r = await writeRunReport({ folder: run.settings.reportFolder, dataDir: config.dataDir, name, mode: config.backupFileMode, refused }, async (write) => {
      let ok = 0;
      let failed = 0;
      const counts: Record<string, number> = {};
      // streamed from the ledger page by page, in code order: memory does not grow with the number of dossiers
      let after = '';
      for (;;) {
        const rows = await reportPage(pool, run.id, after);
        if (!rows.length) break;
        let text = '';
        for (const r of rows) {
          text += reportLine(r.code, r.status, r.error) + REPORT_EOL;
          if (r.status === 'ok') ok++;
          else failed++;
          counts[r.status] = (counts[r.status] ?? 0) + 1;
        }
        await write(text);
        after = rows[rows.length - 1]!.after;
      }
      // R-OP-1: the dossiers not attempted are counted « en erreur(s) » (the mail's list, taken first next time) and said
      // apart with the reason, as `backup status` and the Web UI say them; the two R-BK-7 lines stay last
      const notDone = counts.not_done ?? 0;
      const why = notDone ? [reportNotDoneLine(notDone, ok + failed, stopReason)] : [];
      return { tallies: { ok, failed, counts }, end: [...why, ...reportSummaryLines(ok, failed)].join(REPORT_EOL) + REPORT_EOL };
    });
    if (r.unwritable) {
      const err = r.unwritable.error;
      const why = refused ?? `${run.settings.reportFolder} is unwritable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
      await setRunNote(pool, run.id, `report written to ${r.unwritable.folder}: ${why}`);
    }
    return { file: r.file, ok: r.ok, failed: r.failed, counts: r.counts };
  }

  return {
    /**
     * R-BK-1: claims the run in the ledger (one running batch per target, enforced by a unique index),
     * resolves the R-BK-9 settings once for the whole run, and counts the selection.
     */
    async claimBackupRun(raw: BackupBatchInput & { workflowId: string }): Promise<ClaimResult> {
      const input = parseInput(backupBatchInputSchema, raw);
      const workflowId = parseInput(z.string().min(1).max(400), raw.workflowId);
      const pool = pools.get(input.target);
      const client = await pool.connect();
      try {
        await begin(client);
        // two claims at once queue here instead of racing between the checks and the insert
        await takeClaimLock(client);
        const run = (await runByRef(client, workflowId, 'workflow_id')) as RunRow | undefined;
        if (run) {
          // this activity's earlier attempt committed before its worker died: same run
          await commit(client);
          if (run.state !== 'running') throw permanentFailure(FailureType.InvalidInput, `workflow id ${workflowId} already ran as backup run ${run.id}`);
          return {
            runId: Number(run.id),
            settings: { destinationDir: run.settings.destinationDir, documents: run.settings.documents, generationsRoot: run.settings.generationsRoot },
            cursor: firstCursor(run.kind, run.previous_run === null ? null : Number(run.previous_run)),
            selected: await countSelection(pool, run.kind, run.id),
            previousRun: run.previous_run === null ? null : Number(run.previous_run),
          };
        }
        // R-BK-1: a running run is taken over only once Temporal says its workflow is closed, never on
        // staleness alone (every worker down for a while leaves a live run without progress)
        for (const run of await runningRuns(client)) {
          const status = temporal ? await workflowStatus(temporal, run.workflow_id) : 'UNKNOWN';
          if (mayStillRun(status)) throw alreadyRunning(run, temporal ? status : undefined);
          await closeAbandonedRun(client, run.id, status);
        }
        // R-PI-2 from the batch's side: a patch run or a rollback changing patch levels meanwhile would leave the batch's
        // archives at mixed levels. One whose workflow Temporal says closed is its own claim's to close, and no obstacle here.
        for (const work of await runningPatchWork(client)) {
          const status = temporal ? await workflowStatus(temporal, work.workflowId) : 'UNKNOWN';
          if (!mayStillRun(status)) continue;
          throw ApplicationFailure.create({ type: FailureType.BackupDuringPatchRun, nonRetryable: true, message: batchBesideWorkText(work, input.target) });
        }

        let retryOf: number | null = null;
        if (input.retryOf !== undefined) {
          if (!(await runById(client, input.retryOf))) throw permanentFailure(FailureType.InvalidInput, `unknown backup run ${input.retryOf}`);
          retryOf = input.retryOf;
        }
        const previousRun = await latestFinishedRunId(client);

        const { settings } = await loadBackupSettings(client, config, input.target);
        const start = localDateTime(new Date(), config.timeZone);
        const destinationDir = path.join(settings.folder, ...destinationSegments('manual', settings['date-subfolder'], start));
        const runSettings: RunSettings = {
          destinationDir,
          documents: settings.documents,
          copyStatuses: copyStatusesFor(settings.dossiers),
          // --all and retries ignore "modified only"
          modifiedOnly: settings['modified-only'] && !input.all && retryOf === null,
          reportFolder: path.join(settings.folder, REPORT_FOLDER),
          reportRecipients: settings['report-recipients'],
          generationsRoot: settings.folder,
          // R-BK-14: this worker copies off-site, so the selection takes first the dossiers whose copy is not done
          offsite: offsiteOn,
          // R-BK-12: a dossier whose newest archive is under a key this worker does not give is taken again
          lostKeys: await keysNotGiven(client, config.backupKeys),
        };
        const kind = retryOf === null ? 'run' : 'retry';
        const runId = await insertRun(client, { workflowId, kind, retryOf, previousRun, settings: runSettings, onlyCodes: input.only ?? null });
        const selected = await countSelection(client, kind, runId);
        await setSelected(client, runId, selected);
        await commit(client);
        return {
          runId,
          settings: { destinationDir, documents: runSettings.documents, generationsRoot: settings.folder },
          cursor: firstCursor(kind, previousRun),
          selected,
          previousRun,
        };
      } catch (err) {
        await rollback(client).catch(() => {});
        const e = err as { code?: string; constraint?: string };
        if (e.code === '23505' && e.constraint === 'backup_run_one_running') {
          const [running] = await runningRuns(pool);
          if (running) throw alreadyRunning(running);
        }
        throw err;
      } finally {
        client.release();
      }
    },

    /** The next page of the selection after the cursor; moves to the next phase when one runs dry (R-BK-4). */
    async selectBackupPage(raw: { target: string; runId: number; cursor: SelectionCursor; limit: number }): Promise<{ codes: string[]; cursor: SelectionCursor; exhausted: boolean }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      let cursor = raw.cursor;
      for (;;) {
        const codes = await selectPage(pool, raw.runId, cursor.phase, cursor.after, raw.limit);
        if (codes.length) return { codes, cursor: { phase: cursor.phase, after: codes[codes.length - 1]! }, exhausted: false };
        const next = nextPhase(cursor.phase);
        if (!next) return { codes: [], cursor, exhausted: true };
        cursor = next;
      }
    },

    /**
     * Backs up a chunk of dossiers with a small concurrency, one ledger row per dossier as it ends.
     * Heartbeats the codes done; a retried attempt skips what the ledger or the heartbeat already has
     * and removes the temporary files a killed attempt left. Stops taking dossiers after the time budget.
     */
    async backupChunk(input: ChunkInput): Promise<ChunkResult> {
      const pool = pools.get(parseInput(targetNameSchema, input.target));
      const ctx = activityContext();
      const codes = input.codes.map((c) => parseInput(dossierCodeSchema, c));
      const run = await getRun(pool, input.runId);
      if (run.state !== 'running') throw await runClosed(pool, input.runId);
      if (run.stop_reason) {
        // another chunk found the destination full or unwritable: these are not attempted either (a code with a row keeps it)
        await recordNotDone(pool, input.runId, codes, notDoneErrorText(run.stop_reason));
        throw permanentFailure(FailureType.DestinationUnavailable, run.stop_reason);
      }
      try {
        // once per chunk: the backup folder still the shared store (not a share unmounted since the run began), and
        // no key file gone where the target's archives are encrypted. Either is the run's, not a dossier's: it stops
        // the batch as a full folder does, its dossiers recorded not done with the reason
        if (input.settings.generationsRoot !== undefined) await assertBackupStore(pool, input.target, input.settings.generationsRoot);
        await requireKeyWhereEncrypted(pool, input.target, config.backupKeys);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        await setStopReason(pool, input.runId, reason);
        await recordNotDone(pool, input.runId, codes, notDoneErrorText(reason));
        throw err;
      }
      if ((ctx?.info.attempt ?? 1) > 1) {
        const inLedger = new Set(await codesInLedger(pool, input.runId, codes));
        const redo = new Set(codes.filter((c) => !inLedger.has(c)));
        await removeStaleTemps(input.settings.destinationDir, (t) => redo.has(t.code));
      }
      /** set once the destination itself is full or unwritable: no lane takes another dossier */
      let stopped: DestinationErrno | undefined;
      let closed = false;

      async function one(code: string, signal: AbortSignal | undefined): Promise<DossierOutcome | undefined> {
        const started = Date.now();
        let attempts = 0;
        let item: { status: ItemStatus; error: string | null; file: string | null; size: number | null };
        // R-BK-14: the run copies off-site (its claiming worker has a bucket) and this worker has none: the dossier
        // would be done without its copy (drill C, session 37: a worker restarted without NIGHTSHIFT_OFFSITE_* made the
        // batch end ok with no copies). Failed, saying why; `backup retry` or the next batch takes it on a worker that copies
        if (run.settings.offsite && !offsiteOn) {
          const error = itemErrorText(noOffsiteHereText(input.runId));
          if ((await recordItem(pool, input.runId, { code, attempts: 0, durationMs: 0, status: 'failed', error, file: null, size: null })) === 'closed') {
            closed = true;
            return undefined;
          }
          return { status: 'failed', error };
        }
        // R-BK-14: the dossier is done when its archive is written and, with a bucket, copied, and so are its older
        // kept archives whose copy failed or was found lost. A retried chunk copies the generation its killed attempt
        // already wrote (one generation and one object per dossier and run); an unmodified dossier whose copy failed
        // on an earlier night gets that archive copied, not a new one.
        const copyOffsite = offsiteOn && input.settings.generationsRoot !== undefined;
        const toCopy = copyOffsite
          ? await generationToCopy(pool, { code, runId: input.runId, retried: (ctx?.info.attempt ?? 1) > 1, seedFile: path.join(input.settings.destinationDir, archiveFileName(code)) })
          : undefined;
        // the run's generation of the dossier, taken as it is: a retried chunk's (its killed attempt wrote it), or the
        // one the run's other attempt recorded while this one was backing up (below)
        let written = toCopy?.generation;
        let generationId = written?.id;
        /** the item went into the ledger in the generation's own transaction (no off-site copy to wait for) */
        let recorded = false;
        /** that transaction found the run closed */
        let closedInTx = false;
        if (written) {
          attempts++;
          item = takenItem(written);
        } else for (;;) {
          attempts++;
          try {
            await hooks.beforeDossier?.(code);
            // cancelled: no dossier is begun (the run is closed once those in flight have ended)
            signal?.throwIfAborted();
            const r = await backupDossierArchive({
              pool,
              target: input.target,
              code,
              destinationDir: input.settings.destinationDir,
              documentsFolder: input.settings.documents ? documentsFolder(config.documentsDir, input.target, code) : undefined,
              fileMode: config.backupFileMode,
              keys: loadBackupKeyring(config.backupKeys),
              plainOnPurpose: config.backupKeys.plainOnPurpose,
              signal,
              generation: input.settings.generationsRoot === undefined ? undefined : { kindRoot: input.settings.generationsRoot, kind: 'normal', runId: input.runId, reason: 'batch' },
              ledgerRunId: input.runId,
              // R-BK-1: done in the ledger in the commit that records the generation, when its outcome is known then
              // (an off-site copy comes after: a retry takes the generation its killed attempt wrote, generationToCopy)
              beforeCommit: copyOffsite
                ? undefined
                : async (tx, g) => {
                    const added = await recordItem(tx, input.runId, { code, attempts, durationMs: Date.now() - started, status: 'ok', error: null, file: g.file, size: g.bytes });
                    if (added === 'closed') closedInTx = true;
                    // the retry of this chunk did the dossier meanwhile: this archive is not recorded (R-BK-1: once)
                    if (added !== 'added') throw permanentFailure(FailureType.DossierDoneInRun, `dossier ${code} is done in backup run ${input.runId} already: not backed up again`);
                  },
            });
            recorded = !copyOffsite && r.generationId !== undefined;
            await hooks.afterBackupRecorded?.(code);
            item = { status: 'ok', error: null, file: r.file, size: r.bytes };
            generationId = r.generationId;
            break;
          } catch (err) {
            if (closedInTx) {
              closed = true;
              return undefined;
            }
            if (signal?.aborted) throw err;
            const errno = destinationErrno(err, input.settings.destinationDir, code);
            if (errno) {
              // the destination, not the dossier: every other dossier would fail the same way, so stop now
              stopped ??= errno;
              if (!stoppedRuns.has(input.runId)) stoppedRuns.set(input.runId, errno);
              item = { status: 'failed', error: itemErrorText(err instanceof Error ? err.message : String(err)), file: null, size: null };
              break;
            }
            const type = failureTypeOf(err);
            if (type === FailureType.DossierDoneInRun) {
              // the run's other attempt recorded the dossier's generation first (migration 0037: one per run). With a
              // bucket its item waits for the copy: while the ledger does not have it, this attempt copies that
              // generation, as a retried chunk does (one generation and one object per dossier and run: R-BK-1, R-BK-14)
              const other = copyOffsite && !(await codesInLedger(pool, input.runId, [code])).length ? await runGeneration(pool, input.runId, code) : undefined;
              // superseded: the retry of this chunk did the dossier while this attempt was cut off (R-BK-1: once)
              if (!other) return { status: 'ok', superseded: true };
              written = other;
              generationId = other.id;
              item = takenItem(other);
              break;
            }
            if (type === FailureType.DossierInUse) {
              // the seed's text, and why when it is a table locked by another session (drill F2, session 37: the reason
              // stopped at the engine, and the operator was told a user held the dossier while no session did)
              const said = err instanceof Error && err.message.startsWith(IN_USE_ERROR_TEXT) ? err.message : IN_USE_ERROR_TEXT;
              item = { status: 'in_use', error: said, file: null, size: null };
              break;
            }
            const permanent = err instanceof ApplicationFailure && err.nonRetryable;
            if (permanent || attempts >= DOSSIER_ATTEMPTS) {
              item = { status: 'failed', error: itemErrorText(err instanceof Error ? err.message : String(err)), file: null, size: null };
              break;
            }
            await sleep(500 * attempts, signal);
          }
        }
        if (copyOffsite && item.status === 'ok' && generationId !== undefined) {
          if (!offsiteHealth.has(input.runId)) offsiteHealth.set(input.runId, {});
          const health = offsiteHealth.get(input.runId);
          try {
            // an archive taken as it is may be copied already (only older copies were left to make)
            if (written?.offsiteState !== 'copied') {
              const copy = await copyGenerationOffsite({ db: pool, store: offsiteStore, target: input.target, generationId, signal, health });
              if (!copy.ok) item = { status: 'failed', error: itemErrorText(copy.error), file: null, size: null };
            }
            // then the older archives whose copy failed or was found lost (migration 0019), or was never made (`none`:
            // before the bucket, a single-dossier backup; migration 0025): only a pending dossier has any. The first
            // that fails fails the dossier (the others stay pending too, taken first the next night)
            for (const older of item.status === 'ok' && toCopy?.olderCopies ? await failedOffsiteCopies(pool, code) : []) {
              const copy = await copyGenerationOffsite({ db: pool, store: offsiteStore, target: input.target, generationId: older.id, signal, health });
              if (copy.ok) continue;
              item = { status: 'failed', error: itemErrorText(olderCopyFailedText(older, copy.error)), file: null, size: null };
              break;
            }
          } catch (err) {
            // the batch cancelled between the archive and its copy: what was done is said (the close waits for this
            // chunk), not "cancelled before this dossier"; the copy left to make is taken by the next batch or a retry.
            // A worker shutting down (or a timeout seen here) is no cancel: the chunk's retry copies that archive.
            if (!batchCancelled(signal)) throw err;
            item = { status: 'failed', error: itemErrorText(copyCutShortText(generationId)), file: null, size: null };
          }
        }
        if (!recorded && (await recordItem(pool, input.runId, { code, attempts, durationMs: Date.now() - started, ...item })) === 'closed') {
          closed = true;
          return undefined;
        }
        return { status: item.status, error: item.error };
      }

      const r = await runChunk({
        codes,
        concurrency: input.concurrency,
        timeBudgetMs: input.timeBudgetMs,
        alreadyDone: (todo) => codesInLedger(pool, input.runId, todo),
        perDossier: one,
        shouldStop: () => {
          stopped ??= stoppedRuns.get(input.runId);
          return stopped !== undefined || closed;
        },
        // also keeps the run visibly alive through a long dossier, so no claim takes it for abandoned
        onTick: () => void touchRun(pool, input.runId).catch(() => {}),
      });
      if (closed) throw await runClosed(pool, input.runId);
      if (stopped) {
        const reason = destinationStopText(input.settings.destinationDir, stopped);
        await setStopReason(pool, input.runId, reason);
        await recordNotDone(pool, input.runId, r.remaining, notDoneErrorText(reason));
        throw permanentFailure(FailureType.DestinationUnavailable, reason);
      }
      return {
        counts: r.counts,
        ok: r.ok,
        failed: r.failed,
        inUse: r.counts.in_use ?? 0,
        skipped: r.skipped,
        remaining: r.remaining,
        failures: r.failures,
        failuresTotal: r.failuresTotal,
        retryCommand: r.failed ? backupRetryCommand(input.target, input.runId) : null,
      };
    },

    /**
     * The fan-out engine's details refresh: what the ledger says of the run now, and the dossiers this
     * worker runs for the calling workflow (a local activity: the worker of the workflow task).
     */
    async backupLedgerView(raw: { target: string; runId: number }): Promise<FanOutLedgerView> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const p = await runProgress(pool, raw.runId);
      const failures = p.failed ? capFailures((await latestFailures(pool, raw.runId, DETAILS_FAILURES_SHOWN)).map((f) => ({ ...f, error: f.error ?? '' }))) : [];
      const workflowId = activityContext()?.info.workflowExecution?.workflowId;
      return { done: p.done, failed: p.failed, failures, failuresTotal: p.failed, sinceLastEndSeconds: p.sinceLastEndSeconds, inFlight: workflowId ? dossiersInFlight(workflowId) : [] };
    },

    /**
     * Ends the run: state and totals from the ledger, and the R-BK-7 report written atomically by
     * streaming the ledger. Idempotent (same report name, replaced atomically).
     */
    async finishBackupRun(raw: { target: string; runId: number; endedEarly: boolean; cancelled?: boolean }): Promise<FinishResult> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const run = await getRun(pool, raw.runId);
      if (run.state !== 'running') {
        // this activity's earlier attempt closed it (its answer was lost): the same answer again
        if (run.report_path) {
          const counts = await runItemCounts(pool, run.id);
          return {
            account: batchAccount(counts, run.stop_reason ?? notDoneReason(await notDoneError(pool, run.id))),
            state: run.state,
            total: run.total,
            ok: run.ok,
            failed: run.failed,
            reportPath: run.report_path,
            mail: run.mail_state !== 'none',
            written: await runGenerationCount(pool, raw.runId),
            ...(await failuresOf(pool, raw.runId, raw.target, run.failed)),
          };
        }
        // closed by someone else (taken over as abandoned): it stays as it was closed (R-BK-1)
        throw await runClosed(pool, raw.runId);
      }
      const stopReason = run.stop_reason ?? (raw.endedEarly ? (raw.cancelled ? ENDED_CANCELLED : ENDED_EARLY) : null);
      if (run.stop_reason) {
        // the destination (or the keys) stopped the batch: every selected dossier not attempted is in the report as not done
        await recordNotDoneSelection(pool, run.kind, raw.runId, notDoneErrorText(run.stop_reason));
      } else if (raw.endedEarly) {
        // cancelled, or a chunk failed for good: the dossiers never attempted are in the report, the mail and the
        // retry as not done (the report said "2442 / 2442 traité(s)" of a cancelled run of 8009, and retry had nothing)
        await recordNotDoneSelection(pool, run.kind, raw.runId, notDoneErrorText(stopReason!));
      }
      // every chunk of the run has ended: a temporary archive of the run still there is a superseded attempt's (a
      // worker cut off, then back, or killed): after a fault the batch leaves nothing behind (R-BK-1)
      await removeStaleTemps(run.settings.destinationDir, (t) => t.runId === Number(run.id));
      const { file, ok, failed, counts } = await writeReport(pool, raw.target, run, stopReason);
      const state = runState(raw.endedEarly, failed);
      const mailWanted = failed > 0 && run.settings.reportRecipients.length > 0;
      if (!(await closeRun(pool, raw.runId, { state, ok, failed, reportPath: file, mailWanted }))) throw await runClosed(pool, raw.runId);
      return {
        state,
        total: ok + failed,
        ok,
        failed,
        reportPath: file,
        mail: mailWanted,
        written: await runGenerationCount(pool, raw.runId),
        account: batchAccount(counts, stopReason),
        ...(await failuresOf(pool, raw.runId, raw.target, failed)),
      };
    },

    /** R-BK-8: the report and the list of failed codes, to the report recipients. Thrown errors are retried. */
    async mailBackupReport(raw: { target: string; runId: number }): Promise<{ messageId: string; recipients: string[] }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const run = await getRun(pool, raw.runId);
      if (!mail) throw permanentFailure(FailureType.InvalidInput, 'no mail transport in this worker');
      if (!run.report_path) throw permanentFailure(FailureType.InvalidInput, `backup run ${run.id} has no report`);
      let failedList = '';
      let after = '';
      for (;;) {
        const codes = await failedCodesPage(pool, run.id, after);
        if (!codes.length) break;
        for (const code of codes) failedList += code + REPORT_EOL;
        after = codes[codes.length - 1]!;
      }
      const info = await mail.sendMail({
        from: { name: config.smtp.fromName, address: config.smtp.fromAddress },
        to: run.settings.reportRecipients,
        // several targets (drill T): which firm's batch it was, in the subject
        subject: mailSubject(config.appName, config.targets.length > 1 ? raw.target : undefined),
        // a batch stopped by its destination says so, and what to do, after the R-BK-8 text
        text: run.stop_reason ? `${MAIL_BODY}.${REPORT_EOL}${REPORT_EOL}${reportStopReason(run.stop_reason)}` : MAIL_BODY,
        attachments: [
          { filename: path.basename(run.report_path), path: run.report_path, contentType: 'text/plain; charset=utf-8', contentTransferEncoding: 'base64' },
          { filename: FAILED_LIST_FILE_NAME, content: failedList, contentType: 'text/plain; charset=utf-8', contentTransferEncoding: 'base64' },
        ],
      });
      await markMailSent(pool, run.id);
      return { messageId: String(info.messageId), recipients: run.settings.reportRecipients };
    },

    /** The mail gave up: say so in the ledger (the report stays in the log folder). */
    async markBackupMailFailed(raw: { target: string; runId: number; error: string }): Promise<void> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      await markMailFailed(pool, raw.runId, raw.error);
    },
  };
}
