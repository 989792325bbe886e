import {
  ActivityCancellationType,
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  isCancellation,
} from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import { workflowTime } from './clock';
import {
  BACKUP_BATCH_KIND,
  type BackupBatchInput,
  type BackupBatchProgress,
  type BackupBatchResult,
  type BackupBatchState,
  type BackupMailInput,
  BACKUP_BATCH_PARTIAL,
  DEFAULT_BACKUP_BATCH_TUNING,
  backupBatchProgressQuery,
  backupRetryCommand,
  backupStatusCommand,
} from './backup-batch.api';
import { type BatchAccount, type SelectionCursor, batchAccountText } from '../domain/backup-batch';
import { renderRunDetails } from '../domain/run-details';
import type { ChunkResult } from '../activities/backup-batch';
import {
  type FanOutKind,
  carryFanOutState,
  chunkTuning,
  engineTuning,
  continueFanOutAsNew,
  phaseSetter,
  claimOrSay,
  endFanOutRun,
  fanOutRate,
  fanOutStateOf,
  initialFanOutLive,
  mailRunReport,
  partialRunFailure,
  stepFanOut,
} from './fan-out';
import type { RunMailResult } from './fan-out.api';
import { nightshiftAttributes } from './search-attributes';
import { startBatchVerifyChild, startReportMailChild } from './child-starts';
import { backupVerifyWorkflowId, batchVerifyWorkflowId } from './backup-verify.api';
import { workflowIdTimestamp } from '../domain/workflow-id';
import { BATCH_PAGE_RETRY, DB_CALL, RUN_REPORT, RUN_REPORT_MAIL } from './activity-presets';
import { startBatchPruneChild } from './child-starts';
import { batchPruneWorkflowId } from './backup-prune.api';
import { innermostMessage } from '../domain/failures';

/**
 * The backup batch of modified dossiers (R-BK-1 .. R-BK-8) on the dossier fan-out engine (./fan-out.ts).
 * The ledger in PostgreSQL is the truth; the workflow only moves a cursor: selection pages (local
 * activity), chunks of dossiers (one heartbeating activity each, a bounded window in flight),
 * continue-as-new with the cursor and the totals well before the history limits, and the report written
 * at the end even when the run ends early. A run that leaves dossiers not backed up fails its workflow
 * (BackupBatchPartial, the whole result in details[0]) so that the Web UI's list shows it.
 */

export const BACKUP_BATCH_ACTIVITY_OPTIONS = {
  /** ledger rows: short */
  ledger: DB_CALL,
  /** a chunk: long; a dead worker is noticed by the heartbeat timeout (tuning) and the chunk resumes */
  chunk: {
    startToCloseTimeout: '4 hours',
    retry: BATCH_PAGE_RETRY,
  },
  report: RUN_REPORT,
  mail: RUN_REPORT_MAIL,
} as const satisfies Record<string, ActivityOptions>;

const { claimBackupRun } = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.ledger);
const { mailBackupReport } = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.mail);
const { markBackupMailFailed } = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.ledger);
const reporting = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.report);

/** Histories recorded before a partial run failed its workflow replay as they ran. */
const PARTIAL_FAILS_PATCH = 'backup-batch-partial-fails';
/** Histories recorded before a batch started the prune by retention replay without it. */
const BATCH_PRUNE_PATCH = 'batch-prune';
/** Histories recorded before a batch started the verification of what it wrote replay without it. */
const BATCH_VERIFY_PATCH = 'batch-verify';
/** Histories recorded before the batch's verification was named after its run started it under a timestamp id. */
const BATCH_VERIFY_ID_PATCH = 'batch-verify-id-by-batch';
/** Histories recorded before a partial batch verified the generations it did write (it needed one dossier ok) replay so. */
const BATCH_VERIFY_WRITTEN_PATCH = 'batch-verify-what-it-wrote';
/**
 * Histories recorded before a cancelled batch waited for its chunks to end replay without waiting. Since, the run is
 * closed once no dossier of it is in flight: a dossier whose archive was recorded and whose off-site copy was still
 * being made was recorded not done by the close, then its late 'ok' refused (drill B, session 35: backed up, copied,
 * reported "annulée avant ce dossier", and backed up again by the retry).
 */
const BATCH_WAIT_CHUNKS_PATCH = 'batch-cancel-waits-for-chunks';

export async function backupBatchWorkflow(input: BackupBatchInput): Promise<BackupBatchResult> {
  const tuning = { ...DEFAULT_BACKUP_BATCH_TUNING, ...input.tuning };
  const target = input.target;
  const progress: BackupBatchProgress = {
    target,
    runId: input.state?.runId ?? null,
    phase: 'claiming',
    selected: input.state?.totals.selected ?? 0,
    done: input.state?.totals.done ?? 0,
    ok: input.state?.totals.ok ?? 0,
    inUse: input.state?.totals.inUse ?? 0,
    failed: input.state?.totals.failed ?? 0,
    rate: 0,
    etaSeconds: null,
    generation: input.state?.generation ?? 0,
    reportPath: null,
    sinceLastEndSeconds: null,
    inFlight: [],
    failures: input.state?.failures ?? [],
  };
  // failed: not ok (in use or failed), the chunks' totals or the ledger's last read, whichever is ahead
  const live = initialFanOutLive({
    done: progress.done,
    failed: progress.inUse + progress.failed,
    failures: progress.failures,
    failuresTotal: input.state?.failuresTotal ?? progress.inUse + progress.failed,
  });
  let final: { failures: BackupBatchResult['failures']; failuresTotal: number; retryCommand: string | null } | undefined;
  let refused: string | undefined;
  let reportMailed = false;
  /** the run's end: one account of its dossiers (R-OP-1), as `backup status` and the report say it */
  let account: BatchAccount | undefined;
  setHandler(backupBatchProgressQuery, () => progress);
  upsertSearchAttributes(nightshiftAttributes({ target, kind: BACKUP_BATCH_KIND }));

  const setPhase = phaseSetter(progress);
  const showProgress = (startedAtMs: number) => {
    progress.done = Math.max(progress.done, live.done);
    fanOutRate(live, { sinceMs: startedAtMs, total: progress.selected });
    Object.assign(progress, { rate: live.rate ?? 0, etaSeconds: live.etaSeconds, sinceLastEndSeconds: live.sinceLastEndSeconds, inFlight: live.inFlight, failures: live.failures });
    const running = progress.phase === 'claiming' || progress.phase === 'running';
    const failed = Math.max(progress.inUse + progress.failed, live.failed);
    // not attempted (a stopped batch): not failed, yet not backed up either; the account says which and why
    const notBackedUp = failed + (account?.notDone ?? 0);
    const runId = progress.runId;
    setCurrentDetails(
      renderRunDetails({
        kind: 'backup batch',
        target,
        phase: progress.phase,
        run: runId,
        done: progress.done,
        total: Math.max(progress.selected, progress.done),
        failed,
        rate: progress.rate,
        etaSeconds: progress.etaSeconds,
        sinceLastEndSeconds: progress.sinceLastEndSeconds,
        running,
        inFlight: progress.inFlight,
        failures: final?.failures ?? live.failures,
        failuresTotal: final?.failuresTotal ?? live.failuresTotal,
        notes: [
          ...(refused === undefined ? [] : [`Not started: ${refused}`]),
          ...(account?.notBackedUp ? [batchAccountText(account)] : []),
          // where the report is, and whether it is mailed, as `backup status` says it (drill W, session 40: the result's JSON only)
          ...(progress.reportPath && !running ? [`Report: ${progress.reportPath}${reportMailed ? ' (mailed to the report recipients, R-BK-8)' : ''}`] : []),
        ],
        nextStep:
          runId === null
            ? null
            : notBackedUp > 0 && !running
              ? // failed, in use, or never attempted (a cancelled batch has 0 failed: drill W, session 40)
                { text: 'Next: back up again the dossiers not backed up', command: backupRetryCommand(target, runId) }
              : running
                ? { text: 'Follow it', command: backupStatusCommand(target, runId) }
                : null,
      }),
    );
  };

  let state: BackupBatchState;
  if (input.state) state = input.state;
  else {
    setPhase('claiming');
    showProgress(workflowTime());
    const claim = await claimOrSay(claimBackupRun({ ...input, state: undefined, workflowId: workflowInfo().workflowId }), (reason) => {
      refused = reason;
      setPhase('failed');
      showProgress(workflowTime());
    });
    state = {
      runId: claim.runId,
      settings: claim.settings,
      cursor: claim.cursor,
      exhausted: false,
      pending: [],
      totals: { selected: claim.selected, done: 0, ok: 0, inUse: 0, failed: 0 },
      startedAtMs: workflowTime(),
      chunkSeq: 0,
      generation: 0,
      failures: [],
      failuresTotal: 0,
    };
    progress.runId = claim.runId;
    progress.selected = claim.selected;
  }
  setPhase('running');
  showProgress(state.startedAtMs);

  const { more, failure } = await runChunks();
  if (more) {
    // everything before the cursor is done: a fresh run goes on from it with the totals
    return continueFanOutAsNew<typeof backupBatchWorkflow>({ ...input, state: { ...state, generation: state.generation + 1 } });
  }

  const closing = await CancellationScope.nonCancellable(async () => {
    setPhase('reporting');
    showProgress(state.startedAtMs);
    const f = await reporting.finishBackupRun({ target, runId: state.runId, endedEarly: failure !== undefined, cancelled: isCancellation(failure) });
    progress.reportPath = f.reportPath;
    // the ledger's totals: chunks cut short (cancelled, failed) never reported what they had done
    live.done = Math.max(live.done, f.total);
    live.failed = Math.max(live.failed, f.failed);
    progress.ok = Math.max(progress.ok, f.ok);
    if (f.account) {
      // the ledger's account: the dossiers not attempted are neither done nor failed (said apart, with the reason)
      account = f.account;
      live.done = progress.done = account.total - account.notDone;
      live.failed = account.inUse + account.failed;
      Object.assign(progress, { ok: account.ok, inUse: account.inUse, failed: account.failed });
    }
    final = { failures: f.failures ?? [], failuresTotal: f.failuresTotal ?? f.failed, retryCommand: f.retryCommand ?? null };
    reportMailed = f.mail;
    if (f.mail) {
      // its own workflow: an SMTP outage retries for hours without holding the batch open
      await startReportMailChild({ target, runId: state.runId }, workflowInfo().workflowId);
    }
    // a dossier whose off-site copy failed is not ok, yet its generation was written: verified too
    const wrote = state.settings.generationsRoot !== undefined && (f.ok > 0 || ((f.written ?? 0) > 0 && patched(BATCH_VERIFY_WRITTEN_PATCH)));
    if (wrote && patched(BATCH_VERIFY_PATCH)) {
      // R-BK-13: what this run wrote is verified by a workflow of its own, abandoned by the batch (a failed start is logged, never the batch's failure)
      await startBatchVerifyChild(
        { target, backupRunId: state.runId, trigger: 'batch' },
        {
          workflowId: patched(BATCH_VERIFY_ID_PATCH) ? batchVerifyWorkflowId(workflowInfo().workflowId) : backupVerifyWorkflowId(target, workflowIdTimestamp(new Date(workflowTime()))),
          summary: `Verify what backup run ${state.runId} wrote (target ${target})`,
        },
      ).catch((err: unknown) => log.warn('verify of the backup run not started', { runId: state.runId, error: innermostMessage(err) }));
    }
    if (state.settings.generationsRoot !== undefined && patched(BATCH_PRUNE_PATCH)) {
      // R-BK-11: retention prunes after each batch, in a workflow of its own that outlives it (a failed start is logged, never the batch's failure)
      const batchId = workflowInfo().workflowId;
      await startBatchPruneChild(
        { target, trigger: 'batch', batchWorkflowId: batchId },
        { workflowId: batchPruneWorkflowId(batchId), summary: `Prune by retention after backup run ${state.runId} (target ${target})` },
      ).catch((err: unknown) => log.warn('prune after the backup run not started', { runId: state.runId, error: innermostMessage(err) }));
    }
    setPhase(f.state);
    showProgress(state.startedAtMs);
    return f;
  });
  await endFanOutRun(stopFailure(failure, target, state.runId));
  const result: BackupBatchResult = {
    target,
    runId: state.runId,
    state: closing.state,
    total: closing.total,
    ok: closing.ok,
    failed: closing.failed,
    reportPath: closing.reportPath,
    mail: closing.mail,
    failures: final?.failures ?? [],
    failuresTotal: final?.failuresTotal ?? closing.failed,
    retryCommand: final?.retryCommand ?? null,
    ...(account && { account }),
  };
  if (closing.state !== 'completed' && patched(PARTIAL_FAILS_PATCH)) {
    // the list shows the outcome: a run that left dossiers not backed up is a failed workflow, its result in details[0]
    throw partialRunFailure({
      type: BACKUP_BATCH_PARTIAL,
      message: `backup run ${state.runId} ${closing.state}: ${closing.total - closing.ok} of ${closing.total} dossier(s) not backed up`,
      failures: result.failures,
      shown: 'newest',
      next: result.retryCommand,
      result,
    });
  }
  return result;

  /** The engine's window of chunks over the selection: `more` when this run stopped to continue as new. */
  async function runChunks() {
    const kind: FanOutKind = {
      page: { activity: 'selectBackupPage', params: { target, runId: state.runId }, options: BACKUP_BATCH_ACTIVITY_OPTIONS.ledger },
      chunk: {
        activity: 'backupChunk',
        params: { target, runId: state.runId, settings: state.settings, ...chunkTuning(tuning) },
        options: {
          ...BACKUP_BATCH_ACTIVITY_OPTIONS.chunk,
          heartbeatTimeout: tuning.heartbeatTimeout,
          // cancelled, a chunk ends its dossiers in flight (each recorded as it ended) before the run is closed
          ...(patched(BATCH_WAIT_CHUNKS_PATCH) && { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }),
        },
        summary: (codes, n) => `chunk ${n}: ${codes.length} dossiers from ${codes[0]}`,
        normalize: legacyChunkResult,
      },
      ledger: { activity: 'backupLedgerView', params: { target, runId: state.runId }, options: BACKUP_BATCH_ACTIVITY_OPTIONS.ledger },
    };
    const t = state.totals;
    const fan = fanOutStateOf(state, { done: t.done, ok: t.ok, failed: t.inUse + t.failed, counts: { ok: t.ok, in_use: t.inUse, failed: t.failed } }, t.inUse + t.failed);
    const carry = () => {
      carryFanOutState(state, fan);
      const inUse = fan.totals.counts.in_use ?? 0;
      Object.assign(t, { done: fan.totals.done, ok: fan.totals.ok, inUse, failed: fan.totals.failed - inUse });
      Object.assign(progress, { ok: t.ok, inUse: t.inUse, failed: t.failed, selected: Math.max(t.selected, t.done) });
    };
    try {
      return await stepFanOut<SelectionCursor, ChunkResult>({
        kind,
        state: fan,
        // continue-as-new well before Temporal's 10,000-event warning, whatever the chunk count says (the engine's default budget)
        tuning: engineTuning(tuning),
        live,
        onChunk: carry,
        show: () => showProgress(state.startedAtMs),
        endsEarly: { what: 'backup batch', runId: state.runId },
      });
    } finally {
      carry();
    }
  }
}

/**
 * A batch stopped as a whole by an activity's typed failure (its folder unusable, the backup keys missing): the
 * workflow fails with that type and reason at the top, and the retry (drill R, session 40: the Event History said
 * "Activity task failed", the reason nested, no run named). A cancellation, or any other failure, stays as it is.
 */
function stopFailure(failure: unknown, target: string, runId: number): unknown {
  if (!(failure instanceof ActivityFailure) || !(failure.cause instanceof ApplicationFailure) || !failure.cause.type || isCancellation(failure)) return failure;
  const stop = failure.cause;
  return ApplicationFailure.create({ type: stop.type ?? undefined, nonRetryable: true, message: `${stop.message} (backup run ${runId}: ${backupRetryCommand(target, runId)})`, cause: failure });
}

/** A chunk result of the code before the engine ({ok, inUse, failed, skipped, remaining}: failed meant status 'failed' only). */
function legacyChunkResult(raw: unknown): ChunkResult {
  const r = raw as Partial<ChunkResult> & { ok: number; inUse: number; failed: number; skipped: number; remaining: string[] };
  if (r.counts) return r as ChunkResult;
  return {
    ...r,
    counts: { ok: r.ok, in_use: r.inUse, failed: r.failed },
    failed: r.failed + r.inUse,
    failures: [],
    failuresTotal: r.failed + r.inUse,
    retryCommand: null,
  };
}

/** R-BK-8: mails the report; retried with backoff for up to a day, then recorded as failed (the report stays on disk). */
export async function backupReportMailWorkflow(input: BackupMailInput): Promise<RunMailResult> {
  return mailRunReport(input, {
    run: 'backup run',
    mail: () => mailBackupReport.executeWithOptions({ ...BACKUP_BATCH_ACTIVITY_OPTIONS.mail, summary: `mail report of run ${input.runId}` }, [input]),
    markFailed: (error) => markBackupMailFailed({ ...input, error }),
  });
}
