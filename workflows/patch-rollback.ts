import * as wf from '@temporalio/workflow';
import { DB_CALL } from './activity-presets';
import { activityCaller } from './activity-calls';
import { continueFanOutAsNew, initialClaimedProgress } from './fan-out';
import { runRestoringRun } from './restoring-run';
import {
  DEFAULT_ROLLBACK_TUNING,
  PATCH_ROLLBACK_KIND,
  RollbackFailure,
  rollbackProgressQuery,
  rollbackRetryCommand,
  rollbackScopeText,
  type PatchRollbackInput,
  type RollbackProgress,
  type RollbackRunResult,
} from './patch-rollback.api';

/**
 * Patch rollback (R-PI-11): the claim (R-PI-2: inside a window, nothing else running), the selection written
 * once into the ledger (each dossier with the restore point a patch run recorded), then the dossiers on the
 * fan-out engine, each restored from its restore point in one transaction that also records it (exactly once),
 * driven by workflows/restoring-run.ts. A run that ends with dossiers not rolled back FAILS with RollbackRunPartial
 * (its whole result in details[0]) so that the workflow list shows it, like a partial patch run.
 */

const call = activityCaller(DB_CALL);

export async function patchRollbackWorkflow(input: PatchRollbackInput): Promise<RollbackRunResult> {
  const { target } = input;
  const scope = { dossiers: input.dossiers, patchRun: input.patchRun, failedOnly: input.failedOnly, retryOf: input.retryOf };
  return runRestoringRun({
    target,
    carried: input.state,
    initial: (): RollbackProgress => ({ ...initialClaimedProgress(target), scope: rollbackScopeText(input) }),
    progressQuery: rollbackProgressQuery,
    kind: PATCH_ROLLBACK_KIND,
    title: 'patch rollback',
    tuning: { ...DEFAULT_ROLLBACK_TUNING, ...input.tuning },
    notes: () => [],
    activities: { page: 'selectRollbackPage', chunk: 'rollbackChunk', ledger: 'rollbackLedgerView' },
    chunkSummary: (codes, n) => `chunk ${n}: restore ${codes.length} dossier(s) from ${codes[0]} to their restore points`,
    claim: () => call('claimRollbackRun', `${target}: prerequisites (R-PI-2)`, DB_CALL, { target, workflowId: wf.workflowInfo().workflowId, windowWorkflowId: input.windowWorkflowId, ...scope }),
    refused: { type: RollbackFailure.PrerequisiteFailed, what: `rollback refused on ${target}` },
    select: (runId) => call('selectRollbackDossiers', `${target}: restore points of ${rollbackScopeText(input)}`, DB_CALL, { target, runId, ...scope }),
    close: (runId, error, notes) => call('finishRollbackRun', `${target}: close rollback run ${runId}`, DB_CALL, { target, runId, error, notes }),
    retry: { command: rollbackRetryCommand, during: 'once the run has ended, roll the failed dossiers back again', after: 'fix the cause, then roll the failed dossiers back again' },
    closedInto: (p, closed, how) => {
      if (how === 'failed') {
        if (closed.restored) p.notes.push(`${closed.restored} dossier(s) restored before the run ended`);
        return;
      }
      // which ones, as --wait and `patch status --rollback` print them (the first of them, by code)
      const beyond = closed.restored > closed.restoredCodes.length ? ` and ${closed.restored - closed.restoredCodes.length} more` : '';
      p.notes.push(`${closed.restored} dossier(s) restored to their restore point (data, treatments, dictionary, ledger, level)${closed.restoredCodes.length ? `: ${closed.restoredCodes.join(' ')}${beyond}` : ''}`);
    },
    result: (p, closed) => ({ ...p, state: closed.state, restored: closed.restored, restoredCodes: closed.restoredCodes, failures: closed.failures, failuresTotal: closed.failuresTotal, ...(closed.retryCommand ? { retryCommand: closed.retryCommand } : {}) }),
    partial: { type: RollbackFailure.RunPartial, message: (runId, closed, p) => `rollback run ${runId} on ${target}: ${closed.failuresTotal} of ${p.total} dossier(s) not rolled back` },
    continueAsNew: (next) => continueFanOutAsNew<typeof patchRollbackWorkflow>({ ...input, state: next }),
  });
}
