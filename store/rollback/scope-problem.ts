import type pg from 'pg';
import { codesWithoutRestorePoint } from './codes-without-restore-point';
import { patchRunRestorePoints } from './patch-run-restore-points';
import { rollbackRunState } from './rollback-run-state';
import type { RollbackScope } from './rollback-scope';

/** The scope a rollback's arguments name (R-PI-11). */
export function scopeOf(a: { dossiers?: string[]; patchRun?: number; failedOnly?: boolean; retryOf?: number }): RollbackScope {
  if (a.retryOf !== undefined) return { kind: 'retry', retryOf: a.retryOf };
  if (a.patchRun !== undefined) return { kind: 'run', patchRun: a.patchRun, failedOnly: a.failedOnly ?? false };
  return { kind: 'codes', codes: a.dossiers ?? [] };
}

/**
 * R-PI-11 refusals before anything changes: a dossier without a restore point, a patch run unknown or
 * without restore points, a retry of an unknown run or of one with nothing failed. Undefined: the scope can be
 * rolled back. Shared by the CLI (before it starts anything; `unknown`: a run id that names nothing, bad usage)
 * and the selection activity.
 */
export interface ScopeProblem {
  message: string;
  /** the run named does not exist */
  unknown: boolean;
  /** nothing to do (a retry of a run with no failed dossier): an answer, not a refusal, as `patch retry` says it */
  nothingToDo?: boolean;
}

const problem = (message: string, unknown = false): ScopeProblem => ({ message, unknown });

export async function rollbackScopeProblem(db: pg.Pool | pg.PoolClient, target: string, scope: RollbackScope): Promise<ScopeProblem | undefined> {
  if (scope.kind === 'codes') {
    const missing = await codesWithoutRestorePoint(db, scope.codes);
    if (missing.length) {
      return problem(
        `no restore point to roll back to for ${missing.join(', ')} on ${target}: no patch run with restore points (window payload backup+patch) patched ${missing.length > 1 ? 'them' : 'it'} since the last rollback; nothing was changed`,
      );
    }
    return undefined;
  }
  if (scope.kind === 'run') {
    const r = await patchRunRestorePoints(db, scope.patchRun);
    if (!r.exists) return problem(`no patch run ${scope.patchRun} on ${target} (see 'nightshift patch status'); nothing was changed`, true);
    if (r.state === 'running') return problem(`patch run ${scope.patchRun} is still running: roll back once it has ended; nothing was changed`);
    const usable = scope.failedOnly ? r.usableFailed : r.usable;
    if (!usable) {
      const rolledBack = scope.failedOnly ? r.rolledBackFailed : r.rolledBack;
      if (rolledBack) return problem(`the ${scope.failedOnly ? 'failed ' : ''}dossiers of patch run ${scope.patchRun} are already rolled back (${rolledBack}); nothing was changed`);
      return problem(`patch run ${scope.patchRun} has no restore point${scope.failedOnly ? ' of a failed dossier' : ''} (a run takes them as a window's backup+patch payload); nothing was changed`);
    }
    return undefined;
  }
  const r = await rollbackRunState(db, scope.retryOf);
  if (!r) return problem(`no rollback run ${scope.retryOf} on ${target}; nothing was changed`, true);
  if (r.state === 'running') return problem(`rollback run ${scope.retryOf} is still running: retry it once it has ended; nothing was changed`);
  if (!r.failed) return { message: `rollback run ${scope.retryOf} has no failed dossier: nothing to retry`, unknown: false, nothingToDo: true };
  return undefined;
}
