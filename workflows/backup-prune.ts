import { type ActivityOptions, CancellationScope, log, patched, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import type { PruneChunkResult } from '../activities/prune';
import { renderRunDetails } from '../domain/run-details';
import { sizeText } from '../domain/text';
import {
  BACKUP_PRUNE_KIND,
  BACKUP_PRUNE_PARTIAL,
  type BackupPruneInput,
  type BackupPruneProgress,
  type BackupPruneResult,
  type BackupPruneState,
  DEFAULT_BACKUP_PRUNE_TUNING,
  type PruneCounts,
  ZERO_PRUNE_COUNTS,
  backupPruneProgressQuery,
  offsiteFinishedText,
  offsiteLeftText,
  filesLeftText,
  heldText,
  pruneCommand,
  unrecordedText,
  addHeldBack,
  heldBackText,
} from './backup-prune.api';
import { type FanOutKind, chunkTuning, continueFanOutAsNew, engineTuning, phaseSetter, endFanOutRun, initialFanOutLive, initialFanOutState, partialRunFailure, stepFanOut } from './fan-out';
import { nightshiftAttributes } from './search-attributes';
import { BATCH_PAGE_RETRY, DB_CALL } from './activity-presets';
import { innermostMessage } from '../domain/failures';
import { workflowTime } from './clock';

/**
 * The prune of generations by retention (R-BK-11) on the dossier fan-out engine (./fan-out.ts): the policy
 * fixed at the start (planPrune), pages of dossiers that have kept generations (cursor: the last code),
 * chunks that decide, mark and unlink dossier by dossier (activities/prune.ts), continue-as-new with the
 * cursor and the counts. What it deleted and freed is read at the end from the rows it marked (finishPrune), whatever
 * attempt removed the files; the off-site copies it deleted for earlier prunes are said apart. Started by
 * the batch at its end, and by `nightshift backup prune`. A prune that failed dossiers FAILS its workflow
 * (BackupPrunePartial, the result in details[0]) so the Web UI's list shows it.
 */

const PRUNE_ACTIVITY_OPTIONS = {
  chunk: { startToCloseTimeout: '4 hours', retry: BATCH_PAGE_RETRY },
} as const satisfies Record<string, ActivityOptions>;

const { planPrune, finishPrune } = proxyActivities<NightshiftActivities>(DB_CALL);

/** Histories recorded before a prune with failed dossiers failed its workflow replay as they ran (completed). */
const PARTIAL_FAILS_PATCH = 'backup-prune-partial-fails';

const sum = (a: PruneCounts, b: Partial<PruneCounts>): PruneCounts => ({
  deleted: a.deleted + (b.deleted ?? 0),
  bytesFreed: a.bytesFreed + (b.bytesFreed ?? 0),
  kept: a.kept + (b.kept ?? 0),
  leased: a.leased + (b.leased ?? 0),
  restorePoints: (a.restorePoints ?? 0) + (b.restorePoints ?? 0),
  offsiteDeleted: a.offsiteDeleted + (b.offsiteDeleted ?? 0),
  offsiteFinished: (a.offsiteFinished ?? 0) + (b.offsiteFinished ?? 0),
  // absent from a state carried by a prune started before they were counted
  unrecorded: (a.unrecorded ?? 0) + (b.unrecorded ?? 0),
  unrecordedBytes: (a.unrecordedBytes ?? 0) + (b.unrecordedBytes ?? 0),
  filesLeft: (a.filesLeft ?? 0) + (b.filesLeft ?? 0),
  filesLeftBytes: (a.filesLeftBytes ?? 0) + (b.filesLeftBytes ?? 0),
});

export async function backupPruneWorkflow(input: BackupPruneInput): Promise<BackupPruneResult> {
  const tuning = { ...DEFAULT_BACKUP_PRUNE_TUNING, ...input.tuning };
  const target = input.target;
  const dryRun = input.dryRun ?? false;
  const prunedBy = workflowInfo().workflowId;
  const progress: BackupPruneProgress = { target, dryRun, phase: 'planning', total: 0, done: 0, failed: 0, failures: [], ...ZERO_PRUNE_COUNTS };
  setHandler(backupPruneProgressQuery, () => progress);
  upsertSearchAttributes(nightshiftAttributes({ target, kind: BACKUP_PRUNE_KIND }));

  let state: BackupPruneState;
  let finishedFor: string[] = [];
  const show = (notes: string[] = []) => {
    const running = progress.phase === 'planning' || progress.phase === 'pruning';
    const c = progress;
    const what = dryRun ? 'would delete' : 'deleted';
    setCurrentDetails(
      renderRunDetails({
        kind: dryRun ? 'backup prune (dry run)' : 'backup prune',
        target,
        phase: progress.phase,
        done: c.done,
        total: Math.max(c.total, c.done),
        failed: c.failed,
        running,
        failures: c.failures,
        failuresTotal: state?.fanOut.failuresTotal ?? c.failed,
        notes: [
          `Generations ${what}: ${c.deleted} (${sizeText(c.bytesFreed)})${c.offsiteDeleted ? `, off-site copies deleted: ${c.offsiteDeleted}` : ''} · kept: ${c.kept}${heldText(c.leased, c.restorePoints)}`,
          ...(c.offsiteFinished ? [offsiteFinishedText(c.offsiteFinished, finishedFor)] : []),
          ...(c.filesLeft ? [filesLeftText(c.filesLeft, sizeText(c.filesLeftBytes ?? 0))] : []),
          ...(c.unrecorded ? [unrecordedText(c.unrecorded, sizeText(c.unrecordedBytes ?? 0), dryRun)] : []),
          ...(state?.heldBack?.heldBack ? heldBackText(state.heldBack.heldBack, [], state.heldBack.replacingBad) : []),
          ...(state ? [`Policy: ${state.plan.policyText} (periods in ${state.plan.timeZone})`] : []),
          ...notes,
        ],
        nextStep: c.failed > 0 && !running ? { text: 'Once fixed, prune again', command: pruneCommand(target, dryRun) } : null,
      }),
    );
  };
  const setPhase = phaseSetter(progress);

  if (input.state) state = input.state;
  else {
    show();
    const plan = await planPrune({ target });
    if (plan.ignored) log.warn('retention: the common value is ignored', { problem: plan.ignored });
    state = { plan: { policies: plan.policies, policyText: plan.policyText, timeZone: plan.timeZone, total: plan.total }, fanOut: initialFanOutState(''), counts: { ...ZERO_PRUNE_COUNTS }, startedAtMs: workflowTime() };
  }
  const carry = () => {
    Object.assign(progress, state.counts, {
      total: state.plan.total,
      done: state.fanOut.totals.done,
      failed: state.fanOut.totals.failed,
      failures: state.fanOut.failures,
    });
  };
  setPhase('pruning');
  carry();
  show();

  const kind: FanOutKind = {
    page: { activity: 'selectPrunePage', params: { target }, options: DB_CALL },
    chunk: {
      activity: 'pruneChunk',
      params: { target, prunedBy, dryRun, policies: state.plan.policies, timeZone: state.plan.timeZone, ...chunkTuning(tuning) },
      options: { ...PRUNE_ACTIVITY_OPTIONS.chunk, heartbeatTimeout: tuning.heartbeatTimeout },
      summary: (codes, n) => `prune chunk ${n}: ${codes.length} dossiers from ${codes[0]}`,
    },
  };
  const { more, failure } = await stepFanOut<string, PruneChunkResult>({
    kind,
    state: state.fanOut,
    tuning: engineTuning(tuning),
    live: initialFanOutLive(),
    onChunk: (r) => {
      state.counts = sum(state.counts, r);
      const held = addHeldBack(state.heldBack, r);
      if (held) state.heldBack = held;
      carry();
    },
    show: () => show(),
    endsEarly: { what: 'backup prune' },
  });
  if (more) return continueFanOutAsNew<typeof backupPruneWorkflow>({ ...input, state });

  // the truth: the rows this prune marked and the sizes of their files that were there, whatever attempt removed them
  // (a chunk run twice counts only what its last attempt found); an older worker's answer lacks the newer fields. The
  // files its chunks could not remove are still on disk: not freed (each dossier's last attempt said which)
  const truth = dryRun ? undefined : await CancellationScope.nonCancellable(() => finishPrune({ target, prunedBy }));
  if (truth) {
    const { deleted, offsiteDeleted, offsiteFinished } = truth;
    const bytesFreed = Math.max(0, truth.bytesFreed - (state.counts.filesLeftBytes ?? 0));
    state.counts = { ...state.counts, deleted, bytesFreed, offsiteDeleted, offsiteFinished: offsiteFinished ?? state.counts.offsiteFinished };
    finishedFor = truth.finishedFor ?? [];
  }
  carry();
  const failed = state.fanOut.totals.failed;
  const endState = failed > 0 || failure !== undefined ? 'completed_with_errors' : 'completed';
  setPhase(endState);
  show([...(truth?.offsiteLeft ? [offsiteLeftText(truth.offsiteLeft)] : []), ...(failure !== undefined ? [`Ended early: ${innermostMessage(failure)}`] : [])]);
  await endFanOutRun(failure);
  const result: BackupPruneResult = {
    target,
    dryRun,
    state: endState,
    total: state.plan.total,
    done: state.fanOut.totals.done,
    failed,
    failures: state.fanOut.failures,
    failuresTotal: state.fanOut.failuresTotal,
    policies: state.plan.policies,
    timeZone: state.plan.timeZone,
    ...state.counts,
    ...state.heldBack,
    ...(truth && { recordedDeleted: truth.recordedDeleted, offsiteLeft: truth.offsiteLeft, ...(finishedFor.length ? { finishedFor } : {}) }),
  };
  if (endState !== 'completed' && patched(PARTIAL_FAILS_PATCH)) {
    // the list shows the outcome: a prune that left dossiers not pruned is a failed workflow, its result in details[0]
    throw partialRunFailure({
      type: BACKUP_PRUNE_PARTIAL,
      message: `${dryRun ? 'backup prune (dry run)' : 'backup prune'} on ${target}: ${result.done} / ${result.total} dossier(s), ${failed} failed: ${endState}`,
      failures: result.failures,
      shown: 'newest',
      next: pruneCommand(target, dryRun),
      result,
    });
  }
  return result;
}
