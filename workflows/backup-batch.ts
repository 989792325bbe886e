import {
  type ActivityOptions,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import { workflowTime } from './clock';
import {
  BACKUP_BATCH_KIND,
  BACKUP_MAIL_KIND,
  type BackupBatchInput,
  type BackupBatchPhase,
  type BackupBatchProgress,
  type BackupBatchResult,
  type BackupBatchState,
  type BackupMailInput,
  DEFAULT_BACKUP_BATCH_TUNING,
  backupBatchProgressQuery,
  backupMailWorkflowId,
} from './backup-batch.api';
import { NightshiftKind, NightshiftPhase, NightshiftTarget } from './search-attributes';
import { BATCH_PAGE_RETRY, DB_CALL } from './activity-presets';
import { innermostMessage } from './activity-calls';

/**
 * The backup batch of modified dossiers (R-BK-1 .. R-BK-8). The ledger in PostgreSQL is the truth;
 * the workflow only moves a cursor: selection pages (local activity), chunks of dossiers (one
 * heartbeating activity each, a bounded window in flight), continue-as-new with the cursor and the
 * totals well before the history limits, and the report written at the end even when the run ends early.
 */

export const BACKUP_BATCH_ACTIVITY_OPTIONS = {
  /** ledger rows: short */
  ledger: DB_CALL,
  /** a chunk: long; a dead worker is noticed by the heartbeat timeout (tuning) and the chunk resumes */
  chunk: {
    startToCloseTimeout: '4 hours',
    retry: BATCH_PAGE_RETRY,
  },
  /** the report: must survive a busy disk or database, so generous retries */
  report: {
    startToCloseTimeout: '30 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  },
  /** R-BK-8: an SMTP outage delays the mail for up to a day, never fails the batch */
  mail: {
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '24 hours',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  },
} as const satisfies Record<string, ActivityOptions>;

const { claimBackupRun } = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.ledger);
const { selectBackupPage } = proxyLocalActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.ledger);
const { mailBackupReport } = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.mail);
const { markBackupMailFailed } = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.ledger);
const reporting = proxyActivities<NightshiftActivities>(BACKUP_BATCH_ACTIVITY_OPTIONS.report);

/** Continue-as-new well before Temporal's 10,000-event warning, whatever the chunk count says. */
const HISTORY_EVENTS_BUDGET = 6_000;

export async function backupBatchWorkflow(input: BackupBatchInput): Promise<BackupBatchResult> {
  const tuning = { ...DEFAULT_BACKUP_BATCH_TUNING, ...input.tuning };
  const { backupChunk } = proxyActivities<NightshiftActivities>({ ...BACKUP_BATCH_ACTIVITY_OPTIONS.chunk, heartbeatTimeout: tuning.heartbeatTimeout });
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
  };
  setHandler(backupBatchProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: NightshiftTarget, value: target },
    { key: NightshiftKind, value: BACKUP_BATCH_KIND },
  ]);

  const setPhase = (phase: BackupBatchPhase) => {
    if (progress.phase === phase) return;
    progress.phase = phase;
    upsertSearchAttributes([{ key: NightshiftPhase, value: phase }]);
  };
  const showProgress = (startedAtMs: number) => {
    const seconds = Math.max(0.001, (workflowTime() - startedAtMs) / 1000);
    progress.rate = Math.round((progress.done / seconds) * 10) / 10;
    const left = Math.max(0, progress.selected - progress.done);
    progress.etaSeconds = progress.rate > 0 ? Math.round(left / progress.rate) : null;
    const errors = progress.inUse + progress.failed;
    setCurrentDetails(
      `Backup of target ${target}, run ${progress.runId ?? '?'} (${progress.phase}): ${progress.done} / ${progress.selected} dossiers, ` +
        `${errors} in error (${progress.inUse} in use), ${progress.rate} dossiers/s` +
        (progress.etaSeconds !== null && progress.phase === 'running' ? `, about ${progress.etaSeconds} s left` : ''),
    );
  };

  let state: BackupBatchState;
  if (input.state) state = input.state;
  else {
    setPhase('claiming');
    setCurrentDetails(`Backup of target ${target}: claiming the run`);
    const claim = await claimBackupRun({ ...input, state: undefined, workflowId: workflowInfo().workflowId });
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
    };
    progress.runId = claim.runId;
    progress.selected = claim.selected;
  }
  setPhase('running');
  showProgress(state.startedAtMs);

  let endedEarly = false;
  let failure: unknown;
  let more = false;
  try {
    more = await runChunks();
  } catch (err) {
    endedEarly = true;
    failure = err;
    log.warn('backup batch ended early', { runId: state.runId, error: innermostMessage(err) });
  }

  if (more) {
    // everything before the cursor is done: a fresh run goes on from it with the totals
    await condition(allHandlersFinished);
    return continueAsNew<typeof backupBatchWorkflow>({ ...input, state: { ...state, generation: state.generation + 1 } });
  }

  const final = await CancellationScope.nonCancellable(async () => {
    setPhase('reporting');
    showProgress(state.startedAtMs);
    const f = await reporting.finishBackupRun({ target, runId: state.runId, endedEarly });
    progress.reportPath = f.reportPath;
    if (f.mail) {
      // its own workflow: an SMTP outage retries for hours without holding the batch open
      await startChild(backupReportMailWorkflow, {
        workflowId: backupMailWorkflowId(workflowInfo().workflowId),
        args: [{ target, runId: state.runId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: NightshiftTarget, value: target },
          { key: NightshiftKind, value: BACKUP_MAIL_KIND },
        ],
      });
    }
    setPhase(f.state);
    showProgress(state.startedAtMs);
    return f;
  });
  await condition(allHandlersFinished);
  if (failure !== undefined) throw failure;
  return { target, runId: state.runId, state: final.state, total: final.total, ok: final.ok, failed: final.failed, reportPath: final.reportPath, mail: final.mail };

  /** The sliding window of chunks; true when this run stopped to continue as new. */
  async function runChunks(): Promise<boolean> {
    const inFlight = new Map<number, Promise<void>>();
    let launched = 0;
    let chunkError: unknown;
    const launch = (codes: string[]) => {
      const n = state.chunkSeq++;
      launched++;
      const p = backupChunk
        .executeWithOptions({ ...BACKUP_BATCH_ACTIVITY_OPTIONS.chunk, heartbeatTimeout: tuning.heartbeatTimeout, summary: `chunk ${n}: ${codes.length} dossiers from ${codes[0]}` }, [
          { target, runId: state.runId, codes, settings: state.settings, concurrency: tuning.concurrency, timeBudgetMs: tuning.chunkTimeBudgetMs },
        ])
        .then((r) => {
          const t = state.totals;
          t.ok += r.ok;
          t.inUse += r.inUse;
          t.failed += r.failed;
          t.done += r.ok + r.inUse + r.failed;
          Object.assign(progress, { done: t.done, ok: t.ok, inUse: t.inUse, failed: t.failed, selected: Math.max(t.selected, t.done) });
          if (r.remaining.length) state.pending.push(r.remaining);
          showProgress(state.startedAtMs);
        })
        .catch((err: unknown) => {
          chunkError ??= err;
        })
        .finally(() => inFlight.delete(n));
      inFlight.set(n, p);
    };
    const timeToContinue = () => {
      const info = workflowInfo();
      return launched >= tuning.maxChunksPerRun || info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_BUDGET;
    };

    for (;;) {
      while (chunkError === undefined && inFlight.size < tuning.window && !timeToContinue()) {
        const handedBack = state.pending.shift();
        if (handedBack) {
          launch(handedBack);
          continue;
        }
        if (state.exhausted) break;
        const page = await selectBackupPage({ target, runId: state.runId, cursor: state.cursor, limit: tuning.chunkSize });
        state.cursor = page.cursor;
        state.exhausted = page.exhausted;
        if (page.codes.length) launch(page.codes);
      }
      if (inFlight.size === 0) break;
      await Promise.race(inFlight.values());
    }
    if (chunkError !== undefined) throw chunkError;
    return !(state.exhausted && state.pending.length === 0);
  }
}

/** R-BK-8: mails the report; retried with backoff for up to a day, then recorded as failed (the report stays on disk). */
export async function backupReportMailWorkflow(input: BackupMailInput): Promise<{ sent: boolean; error?: string }> {
  setCurrentDetails(`Mail the report of backup run ${input.runId} (target ${input.target})`);
  try {
    await mailBackupReport.executeWithOptions({ ...BACKUP_BATCH_ACTIVITY_OPTIONS.mail, summary: `mail report of run ${input.runId}` }, [input]);
    setCurrentDetails(`Report of backup run ${input.runId} mailed`);
    return { sent: true };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = innermostMessage(err);
    await markBackupMailFailed({ ...input, error });
    setCurrentDetails(`Report of backup run ${input.runId} not mailed: ${error}`);
    return { sent: false, error };
  }
}
