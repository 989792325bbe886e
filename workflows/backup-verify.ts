import {
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import type { VerifyChunkResult } from '../activities/verify';
import { type FanOutLedgerView, renderRunDetails } from '../domain/run-details';
import { workflowTime } from './clock';
import {
  BACKUP_VERIFY_KIND,
  BACKUP_VERIFY_PROBLEMS,
  type BackupVerifyInput,
  type BackupVerifyPhase,
  type BackupVerifyProgress,
  type BackupVerifyResult,
  type BackupVerifyState,
  DEFAULT_BACKUP_VERIFY_TUNING,
  type VerifyMailInput,
  backupVerifyProgressQuery,
} from './backup-verify.api';
import { type FanOutKind, type FanOutState, continueFanOutAsNew, runFanOut } from './fan-out';
import { nightshiftAttributes, phaseAttribute } from './search-attributes';
import { startVerifyMailChild } from './child-starts';
import { BATCH_PAGE_RETRY, DB_CALL } from './activity-presets';
import { innermostMessage } from './activity-calls';

/**
 * Verification of kept generations (R-BK-13) on the dossier fan-out engine (./fan-out.ts): pages of
 * generation ids of the scope (all kept, one batch run's, some dossiers), chunks that read each one under a
 * lease (checksums, the whole archive; a sample restored into a scratch schema and compared), continue-as-new
 * with the cursor well before the history limits, then the report and, on a problem only, the mail. A run that
 * found a problem FAILS its workflow (BackupVerifyProblems, the result in details[0]) so the Web UI's list shows it.
 */

export const BACKUP_VERIFY_ACTIVITY_OPTIONS = {
  ledger: DB_CALL,
  chunk: { startToCloseTimeout: '6 hours', retry: BATCH_PAGE_RETRY },
  report: {
    startToCloseTimeout: '30 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  },
  mail: {
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '24 hours',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  },
} as const satisfies Record<string, ActivityOptions>;

const { claimVerifyRun } = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger);
const reporting = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.report);
const { mailVerifyReport } = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.mail);
const { markVerifyMailFailed } = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger);

const HISTORY_EVENTS_BUDGET = 6_000;

export async function backupVerifyWorkflow(input: BackupVerifyInput): Promise<BackupVerifyResult> {
  const tuning = { ...DEFAULT_BACKUP_VERIFY_TUNING, ...input.tuning };
  const target = input.target;
  const progress: BackupVerifyProgress = {
    target,
    runId: input.state?.runId ?? null,
    phase: 'claiming',
    selected: input.state?.totals.selected ?? 0,
    done: input.state?.totals.done ?? 0,
    ok: input.state?.totals.ok ?? 0,
    problems: input.state?.totals.problems ?? 0,
    reportPath: null,
    inFlight: [],
    failures: input.state?.failures ?? [],
  };
  let failuresTotal = input.state?.failuresTotal ?? 0;
  let final: Pick<BackupVerifyResult, 'failures' | 'failuresTotal' | 'nextCommand'> | undefined;
  setHandler(backupVerifyProgressQuery, () => progress);
  upsertSearchAttributes(nightshiftAttributes({ target, kind: BACKUP_VERIFY_KIND }));

  const setPhase = (phase: BackupVerifyPhase) => {
    if (progress.phase === phase) return;
    progress.phase = phase;
    upsertSearchAttributes(phaseAttribute(phase));
  };
  const show = () => {
    const running = progress.phase === 'claiming' || progress.phase === 'running';
    const failures = final?.failures ?? progress.failures;
    setCurrentDetails(
      renderRunDetails({
        kind: 'backup verify',
        target,
        phase: progress.phase,
        run: progress.runId,
        done: progress.done,
        total: Math.max(progress.selected, progress.done),
        failed: progress.problems,
        running,
        inFlight: progress.inFlight,
        failures,
        failuresTotal: final?.failuresTotal ?? failuresTotal,
        nextStep: final?.nextCommand ? { text: 'Next: back up these dossiers again', command: final.nextCommand } : null,
      }),
    );
  };

  let state: BackupVerifyState;
  if (input.state) state = input.state;
  else {
    show();
    const claim = await claimVerifyRun({ ...input, state: undefined, workflowId: workflowInfo().workflowId });
    state = {
      runId: claim.runId,
      scope: claim.scope,
      sample: claim.sample,
      cursor: 0,
      exhausted: false,
      pending: [],
      chunkSeq: 0,
      totals: { selected: claim.selected, done: 0, ok: 0, problems: 0 },
      startedAtMs: workflowTime(),
      failures: [],
      failuresTotal: 0,
    };
    progress.runId = claim.runId;
    progress.selected = claim.selected;
  }
  setPhase('running');
  show();

  let endedEarly = false;
  let failure: unknown;
  let more = false;
  try {
    more = await runChunks();
  } catch (err) {
    endedEarly = true;
    failure = err;
    log.warn('backup verify ended early', { runId: state.runId, error: innermostMessage(err) });
  }
  if (more) return continueFanOutAsNew<typeof backupVerifyWorkflow>({ ...input, state });

  const closing = await CancellationScope.nonCancellable(async () => {
    setPhase('reporting');
    show();
    const f = await reporting.finishVerifyRun({ target, runId: state.runId, endedEarly });
    progress.reportPath = f.reportPath;
    Object.assign(progress, { done: f.total, ok: f.ok, problems: f.problems });
    final = { failures: f.failures, failuresTotal: f.failuresTotal, nextCommand: f.nextCommand };
    if (f.mail) await startVerifyMailChild({ target, runId: state.runId }, workflowInfo().workflowId);
    setPhase(f.state);
    show();
    return f;
  });
  await condition(allHandlersFinished);
  if (failure !== undefined) throw failure;
  const result: BackupVerifyResult = { target, runId: state.runId, ...closing };
  if (closing.state !== 'completed') {
    throw ApplicationFailure.create({
      type: BACKUP_VERIFY_PROBLEMS,
      nonRetryable: true,
      message:
        `verify run ${state.runId}: ${closing.problems} of ${closing.total} generation(s) with a problem` +
        (result.failures[0] ? ` (${result.failures.slice(-3).map((f) => `${f.code}: ${f.error}`).join('; ')})` : '') +
        (result.nextCommand ? `; next: ${result.nextCommand}` : ''),
      details: [result],
    });
  }
  return result;

  async function runChunks(): Promise<boolean> {
    const kind: FanOutKind = {
      page: { activity: 'selectVerifyPage', params: { target, scope: state.scope }, options: BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger },
      chunk: {
        activity: 'verifyChunk',
        params: { target, runId: state.runId, sample: state.sample, concurrency: tuning.concurrency, timeBudgetMs: tuning.chunkTimeBudgetMs },
        options: { ...BACKUP_VERIFY_ACTIVITY_OPTIONS.chunk, heartbeatTimeout: tuning.heartbeatTimeout },
        summary: (ids, n) => `chunk ${n}: ${ids.length} generations from id ${ids[0]}`,
      },
      ledger: { activity: 'verifyLedgerView', params: { target, runId: state.runId }, options: BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger },
    };
    const t = state.totals;
    const fan: FanOutState<number> = {
      cursor: state.cursor,
      exhausted: state.exhausted,
      pending: state.pending,
      chunkSeq: state.chunkSeq,
      totals: { done: t.done, ok: t.ok, failed: t.problems, counts: {} },
      failures: state.failures,
      failuresTotal: state.failuresTotal,
    };
    const carry = () => {
      Object.assign(state, { cursor: fan.cursor, exhausted: fan.exhausted, pending: fan.pending, chunkSeq: fan.chunkSeq, failures: fan.failures, failuresTotal: fan.failuresTotal });
      Object.assign(t, { done: fan.totals.done, ok: fan.totals.ok, problems: fan.totals.failed });
      Object.assign(progress, { done: Math.max(progress.done, t.done), ok: t.ok, problems: t.problems, selected: Math.max(t.selected, t.done), failures: fan.failures });
      failuresTotal = fan.failuresTotal;
    };
    try {
      return await runFanOut<number, VerifyChunkResult>(
        kind,
        fan,
        { chunkSize: tuning.chunkSize, window: tuning.window, maxChunksPerRun: tuning.maxChunksPerRun, historyBudget: HISTORY_EVENTS_BUDGET },
        {
          onChunk: () => {
            carry();
            show();
          },
          onLedger: (view: FanOutLedgerView) => {
            progress.done = Math.max(progress.done, view.done);
            progress.inFlight = view.inFlight;
            if (view.failures.length) progress.failures = view.failures;
            progress.problems = Math.max(progress.problems, view.failed);
            failuresTotal = Math.max(failuresTotal, view.failuresTotal);
            show();
          },
        },
      );
    } finally {
      carry();
      progress.inFlight = [];
    }
  }
}

/** The verify report's mail (on a problem only): retried with backoff for up to a day, then recorded as failed. */
export async function backupVerifyMailWorkflow(input: VerifyMailInput): Promise<{ sent: boolean; error?: string }> {
  setCurrentDetails(`Mail the report of verify run ${input.runId} (target ${input.target})`);
  try {
    await mailVerifyReport.executeWithOptions({ ...BACKUP_VERIFY_ACTIVITY_OPTIONS.mail, summary: `mail report of verify run ${input.runId}` }, [input]);
    setCurrentDetails(`Report of verify run ${input.runId} mailed`);
    return { sent: true };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = innermostMessage(err);
    await markVerifyMailFailed({ ...input, error });
    setCurrentDetails(`Report of verify run ${input.runId} not mailed: ${error}`);
    return { sent: false, error };
  }
}
