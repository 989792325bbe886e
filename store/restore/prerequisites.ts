import type { Prerequisite } from '../../workflows/fan-out.api';
import type { Queryable } from '../queryable';
import { runningPatchWork } from '../backup/running-patch-work';
import { runningRuns } from '../backup/running-runs';
import { runningRestoreRuns } from './running-runs';

/**
 * What a restore run needs on its target: no backup batch (it would archive dossiers being restored), no patch run or
 * rollback (they change the dossiers' levels: R-PI-2), no other restore run. The claim checks them under its locks; the
 * CLI before it starts anything, and its dry run says them.
 */
export async function restorePrerequisites(db: Queryable, target: string): Promise<Prerequisite[]> {
  const backups = await runningRuns(db);
  const work = await runningPatchWork(db);
  const patches = work.filter((w) => w.kind === 'patch run');
  const rollbacks = work.filter((w) => w.kind === 'rollback');
  const restores = await runningRestoreRuns(db);
  const one = (name: string, running: { workflowId: string }[], what: string): Prerequisite => ({
    name,
    ok: running.length === 0,
    detail: running.length ? `${what} ${running.map((r) => r.workflowId).join(', ')} is running on ${target}` : `no ${what} is running`,
  });
  return [
    one('no backup batch', backups.map((b) => ({ workflowId: b.workflow_id })), 'backup batch'),
    one('no patch run', patches, 'patch run'),
    one('no rollback', rollbacks, 'rollback'),
    one('no other restore run', restores, 'restore run'),
  ];
}
