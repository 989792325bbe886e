import * as wf from '@temporalio/workflow';
import { DB_CALL } from './activity-presets';
import { activityCaller } from './activity-calls';
import { continueFanOutAsNew, initialClaimedProgress } from './fan-out';
import { runRestoringRun } from './restoring-run';
import {
  DEFAULT_RESTORE_TUNING,
  RESTORE_RUN_KIND,
  RestoreRunFailure,
  restoreRetryCommand,
  restoreRunProgressQuery,
  restoreScopeText,
  type RestoreRunInput,
  type RestoreRunProgress,
  type RestoreRunResult,
} from './backup-restore-run.api';

/**
 * Bulk restore (`backup restore --all|--codes --at DATE`, a lost database): the claim (no backup batch, patch run,
 * rollback or other restore run on the target), the selection written once into the ledger, then the dossiers on the
 * fan-out engine, each restored from its generation at or before DATE in one transaction that also records it
 * (exactly once), or kept when it is there and the run does not replace; driven by workflows/restoring-run.ts. A run
 * that ends with dossiers not restored FAILS with RestoreRunPartial (its whole result in details[0]) so that the
 * workflow list shows it (R-OP-1).
 */

const call = activityCaller(DB_CALL);

export async function backupRestoreRunWorkflow(input: RestoreRunInput): Promise<RestoreRunResult> {
  const { target } = input;
  const asked = (p: RestoreRunProgress) =>
    `each dossier's ${input.kind ? `${input.kind} ` : ''}generation at or before ${p.atText ?? input.at}${input.replace ? ', replacing those there' : ', keeping those there'}`;
  return runRestoringRun({
    target,
    carried: input.state,
    initial: (): RestoreRunProgress => ({ ...initialClaimedProgress(target), scope: restoreScopeText(input), restored: 0, kept: 0 }),
    progressQuery: restoreRunProgressQuery,
    kind: RESTORE_RUN_KIND,
    title: 'backup restore',
    tuning: { ...DEFAULT_RESTORE_TUNING, ...input.tuning },
    notes: (p) => [asked(p), ...(p.restored || p.kept ? [`restored ${p.restored}, kept (already there) ${p.kept}`] : [])],
    activities: { page: 'selectRestorePage', chunk: 'restoreRunChunk', ledger: 'restoreRunLedgerView' },
    chunkSummary: (codes, n) => `chunk ${n}: restore ${codes.length} dossier(s) from ${codes[0]}`,
    claim: () => {
      const { state: _state, tuning: _tuning, ...asked } = input;
      return call('claimRestoreRun', `${target}: nothing else working on the target`, DB_CALL, { ...asked, workflowId: wf.workflowInfo().workflowId });
    },
    refused: { type: RestoreRunFailure.PrerequisiteFailed, what: `restore refused on ${target}` },
    select: async (runId, p) => {
      const selected = await call('selectRestoreDossiers', `${target}: the dossiers of ${restoreScopeText(input)}`, DB_CALL, { target, runId, at: input.at, kind: input.kind, codes: input.codes, all: input.all, retryOf: input.retryOf });
      // the instant in the operator's zone, as the CLI says it (the workflow has no zone of its own)
      if (selected.atText) p.atText = selected.atText;
      return selected;
    },
    close: (runId, error, notes) => call('finishRestoreRun', `${target}: close restore run ${runId}`, DB_CALL, { target, runId, error, notes }),
    retry: { command: restoreRetryCommand, during: 'once the run has ended, restore the failed dossiers again', after: 'fix the cause, then restore the failed dossiers again' },
    counted: (p, { chunkCounts, ledger }) => {
      // the ledger's view carries the run's own counts (restoreRunLedgerView); a chunk's totals count `ok` and `kept`
      const from = ledger ? (ledger as { restored?: number; kept?: number }) : { restored: chunkCounts?.ok, kept: chunkCounts?.kept };
      p.restored = Math.max(p.restored, from.restored ?? 0);
      p.kept = Math.max(p.kept, from.kept ?? 0);
    },
    closedInto: (p, closed) => {
      p.restored = closed.restored;
      p.kept = closed.kept;
      // older generations used, patch levels, dossiers still missing (runs closed before these notes existed carry none)
      p.notes.push(...(closed.notes ?? []));
    },
    result: (p, closed) => ({
      ...p,
      state: closed.state,
      restoredCodes: closed.restoredCodes,
      keptCodes: closed.keptCodes,
      failures: closed.failures,
      failuresTotal: closed.failuresTotal,
      ...(closed.retryCommand ? { retryCommand: closed.retryCommand } : {}),
    }),
    partial: { type: RestoreRunFailure.RunPartial, message: (runId, closed, p) => `restore run ${runId} on ${target}: ${closed.failuresTotal} of ${p.total} dossier(s) not restored` },
    continueAsNew: (next) => continueFanOutAsNew<typeof backupRestoreRunWorkflow>({ ...input, state: next }),
  });
}
