import type pg from 'pg';
import { codesWithoutRestorePoint } from './codes-without-restore-point';
import { patchRunRestorePoints } from './patch-run-restore-points';
import type { RollbackScope } from './rollback-scope';

/** The scope a rollback's arguments name (R-PI-11). */
export function scopeOf(a: { dossiers?: string[]; patchRun?: number; failedOnly?: boolean; retryOf?: number }): RollbackScope {
  if (a.retryOf !== undefined) return { kind: 'retry', retryOf: a.retryOf };
  if (a.patchRun !== undefined) return { kind: 'run', patchRun: a.patchRun, failedOnly: a.failedOnly ?? false };
  return { kind: 'codes', codes: a.dossiers ?? [] };
}

/**
 * R-PI-11 refusals before anything changes: a dossier without a restore point, a patch run unknown or
 * without restore points, a retry with nothing failed. Undefined: the scope can be rolled back. Shared by
 * the CLI (before it starts anything) and the selection activity.
 */
export async function rollbackScopeProblem(db: pg.Pool | pg.PoolClient, target: string, scope: RollbackScope): Promise<string | undefined> {
  if (scope.kind === 'codes') {
    const missing = await codesWithoutRestorePoint(db, scope.codes);
    if (missing.length) {
      return `no restore point to roll back to for ${missing.join(', ')} on ${target}: no patch run with restore points (window payload backup+patch) patched ${missing.length > 1 ? 'them' : 'it'} since the last rollback; nothing was changed`;
    }
    return undefined;
  }
  if (scope.kind === 'run') {
    const r = await patchRunRestorePoints(db, scope.patchRun);
    if (!r.exists) return `no patch run ${scope.patchRun} on ${target}; nothing was changed`;
    if (r.state === 'running') return `patch run ${scope.patchRun} is still running: roll back once it has ended; nothing was changed`;
    const usable = scope.failedOnly ? r.usableFailed : r.usable;
    if (!usable) {
      if (r.rolledBack) return `the ${scope.failedOnly ? 'failed ' : ''}dossiers of patch run ${scope.patchRun} are already rolled back (${r.rolledBack}); nothing was changed`;
      return `patch run ${scope.patchRun} has no restore point${scope.failedOnly ? ' of a failed dossier' : ''} (a run takes them as a window's backup+patch payload); nothing was changed`;
    }
    return undefined;
  }
  return undefined;
}
