import { type ActivityOptions, CancellationScope, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import type { VerifyChunkResult } from '../activities/verify';
import { renderRunDetails } from '../domain/run-details';
import { type VerifyPart, NOTHING_TO_VERIFY, verifyPartText } from '../domain/backup-verify';
import { innermostMessage } from '../domain/failures';
import { workflowTime } from './clock';
import {
  BACKUP_VERIFY_KIND,
  BACKUP_VERIFY_PROBLEMS,
  type BackupVerifyInput,
  type BackupVerifyProgress,
  type BackupVerifyResult,
  type BackupVerifyState,
  DEFAULT_BACKUP_VERIFY_TUNING,
  type VerifyMailInput,
  backupVerifyProgressQuery,
} from './backup-verify.api';
import { type FanOutKind, carryFanOutState, chunkTuning, engineTuning, continueFanOutAsNew, phaseSetter, claimOrSay, endFanOutRun, fanOutStateOf, initialFanOutLive, mailRunReport, partialRunFailure, stepFanOut } from './fan-out';
import type { RunMailResult } from './fan-out.api';
import { nightshiftAttributes } from './search-attributes';
import { startVerifyMailChild } from './child-starts';
import { BATCH_PAGE_RETRY, DB_CALL, RUN_REPORT, RUN_REPORT_MAIL } from './activity-presets';

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
  report: RUN_REPORT,
  mail: RUN_REPORT_MAIL,
} as const satisfies Record<string, ActivityOptions>;

const { claimVerifyRun } = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger);
const reporting = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.report);
const { mailVerifyReport } = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.mail);
const { markVerifyMailFailed } = proxyActivities<NightshiftActivities>(BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger);


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
  const live = initialFanOutLive({ done: progress.done, failed: progress.problems, failures: progress.failures, failuresTotal: input.state?.failuresTotal ?? 0 });
  let final: Pick<BackupVerifyResult, 'failures' | 'failuresTotal' | 'nextCommand' | 'nextSteps' | 'restored' | 'seed' | 'stopReason'> | undefined;
  // known from the claim: one part of every kept generation, said from the start as the CLI says it
  let part: VerifyPart | undefined = input.state?.scope.kind === 'all' ? input.state.scope.part : undefined;
  let refused: string | undefined;
  setHandler(backupVerifyProgressQuery, () => progress);
  upsertSearchAttributes(nightshiftAttributes({ target, kind: BACKUP_VERIFY_KIND }));

  const setPhase = phaseSetter(progress);
  const show = () => {
    const running = progress.phase === 'claiming' || progress.phase === 'running';
    setCurrentDetails(
      renderRunDetails({
        kind: 'backup verify',
        target,
        phase: progress.phase,
        run: progress.runId,
        done: progress.done,
        total: Math.max(progress.selected, progress.done),
        failed: progress.problems,
        // as the CLI counts them: generations, each ok or with a problem
        unit: 'generations',
        failedWord: 'with a problem',
        running,
        inFlight: progress.inFlight,
        failures: final?.failures ?? progress.failures,
        failuresTotal: final?.failuresTotal ?? live.failuresTotal,
        // the first step (the result of an older worker has none: its command is a backup)
        nextStep: final?.nextCommand ? { text: `Next: ${final.nextSteps?.[0]?.text ?? 'back up these dossiers again'}`, command: final.nextCommand } : null,
        notes:
          refused === undefined
            ? [
                // R-BK-13, R-OP-1: why it stopped before reading every generation, as `backup verify status` says it
                ...(final?.stopReason ? [`Stopped: ${final.stopReason}`] : []),
                ...(part ? [`Reads ${verifyPartText(part)}`] : []),
                ...(final && !final.stopReason && progress.selected === 0 && progress.done === 0 ? [NOTHING_TO_VERIFY] : []),
                // known once the run is closed (finishVerifyRun reads the ledger), as the CLI says it
                ...(final ? [`${final.restored} generation(s) restored into a scratch schema and compared (seed ${final.seed})`] : []),
                ...(final?.nextSteps ?? []).slice(1).map((s) => `Then: ${s.text}: ${s.command}`),
              ]
            : [`Not started: ${refused}`],
      }),
    );
  };

  let state: BackupVerifyState;
  if (input.state) state = input.state;
  else {
    show();
    const claim = await claimOrSay(claimVerifyRun({ ...input, state: undefined, workflowId: workflowInfo().workflowId }), (reason) => {
      refused = reason;
      setPhase('failed');
      show();
    });
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
    if (claim.scope.kind === 'all') part = claim.scope.part;
  }
  setPhase('running');
  show();

  const { more, failure } = await runChunks();
  if (more) return continueFanOutAsNew<typeof backupVerifyWorkflow>({ ...input, state });

  const closing = await CancellationScope.nonCancellable(async () => {
    setPhase('reporting');
    show();
    // what ended the fan-out early, for the run's note when no chunk recorded why (activity inputs are not replayed)
    const f = await reporting.finishVerifyRun({ target, runId: state.runId, endedEarly: failure !== undefined, ...(failure !== undefined && { reason: innermostMessage(failure) }) });
    progress.reportPath = f.reportPath;
    Object.assign(progress, { done: f.total, ok: f.ok, problems: f.problems });
    final = { failures: f.failures, failuresTotal: f.failuresTotal, nextCommand: f.nextCommand, nextSteps: f.nextSteps, restored: f.restored, seed: f.seed, stopReason: f.stopReason };
    if (f.mail) await startVerifyMailChild({ target, runId: state.runId }, workflowInfo().workflowId);
    setPhase(f.state);
    show();
    return f;
  });
  await endFanOutRun(failure);
  const result: BackupVerifyResult = { target, runId: state.runId, ...closing };
  if (closing.state !== 'completed') {
    throw partialRunFailure({
      type: BACKUP_VERIFY_PROBLEMS,
      message: `verify run ${state.runId}: ${closing.problems} of ${closing.total} generation(s) with a problem`,
      failures: result.failures,
      shown: 'newest',
      next: result.nextCommand,
      result,
    });
  }
  return result;

  async function runChunks() {
    const kind: FanOutKind = {
      page: { activity: 'selectVerifyPage', params: { target, scope: state.scope }, options: BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger },
      chunk: {
        activity: 'verifyChunk',
        params: { target, runId: state.runId, sample: state.sample, ...chunkTuning(tuning) },
        options: { ...BACKUP_VERIFY_ACTIVITY_OPTIONS.chunk, heartbeatTimeout: tuning.heartbeatTimeout },
        summary: (ids, n) => `chunk ${n}: ${ids.length} generations from id ${ids[0]}`,
      },
      ledger: { activity: 'verifyLedgerView', params: { target, runId: state.runId }, options: BACKUP_VERIFY_ACTIVITY_OPTIONS.ledger },
    };
    const t = state.totals;
    const fan = fanOutStateOf(state, { done: t.done, ok: t.ok, failed: t.problems, counts: {} }, state.failuresTotal);
    const carry = () => {
      carryFanOutState(state, fan);
      Object.assign(t, { done: fan.totals.done, ok: fan.totals.ok, problems: fan.totals.failed });
      Object.assign(progress, { ok: t.ok, selected: Math.max(t.selected, t.done) });
    };
    // the query's fields follow what the details show
    const sync = () => Object.assign(progress, { done: Math.max(progress.done, live.done), problems: live.failed, inFlight: live.inFlight, failures: live.failures });
    try {
      return await stepFanOut<number, VerifyChunkResult>({
        kind,
        state: fan,
        tuning: engineTuning(tuning),
        live,
        onChunk: () => {
          carry();
          sync();
        },
        onLedger: sync,
        show,
        endsEarly: { what: 'backup verify', runId: state.runId },
      });
    } finally {
      carry();
      sync();
    }
  }
}

/** The verify report's mail (on a problem only): retried with backoff for up to a day, then recorded as failed. */
export async function backupVerifyMailWorkflow(input: VerifyMailInput): Promise<RunMailResult> {
  return mailRunReport(input, {
    run: 'verify run',
    mail: () => mailVerifyReport.executeWithOptions({ ...BACKUP_VERIFY_ACTIVITY_OPTIONS.mail, summary: `mail report of verify run ${input.runId}` }, [input]),
    markFailed: (error) => markVerifyMailFailed({ ...input, error }),
  });
}
