import type { Prerequisite } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';
import { runningRollbackRuns } from '../rollback/running-runs';
import { runningRestoreRuns } from '../restore/running-runs';

/**
 * R-PI-2, each prerequisite reported: exactly one supervisor, no backup batch, no other patch run, no rollback, an
 * in-progress maintenance window of the target (`windowWorkflowId` when the run is its payload). The
 * claim checks them under its lock; `patch integrate` checks them before it starts anything.
 */
/** The phases of an in-progress window with every session closed (R-MW-8 done): a patch run by hand may go. */
const SINGLE_USER_PHASES = new Set(['working', 'checking', 'failed']);

export async function patchPrerequisites(db: Queryable, target: string, windowWorkflowId?: string): Promise<Prerequisite[]> {
  const prerequisites: Prerequisite[] = [];
  const sup = await db.query<{ code: string }>(`SELECT code FROM nightshift.dossier WHERE role = 'supervisor'`);
  prerequisites.push(
    sup.rows[0]
      ? { name: 'supervisor dossier', ok: true, detail: `${sup.rows[0].code} is the supervisor` }
      : { name: 'supervisor dossier', ok: false, detail: 'the target has no supervisor dossier: create one first' },
  );
  const hasBackupRuns = (await db.query<{ ok: boolean }>(`SELECT to_regclass('nightshift.backup_run') IS NOT NULL AS ok`)).rows[0]!.ok;
  const backups = hasBackupRuns
    ? (await db.query<{ workflow_id: string }>(`SELECT workflow_id FROM nightshift.backup_run WHERE state = 'running'`)).rows
    : [];
  prerequisites.push({
    name: 'no backup batch',
    ok: backups.length === 0,
    detail: backups.length ? `backup batch ${backups.map((b) => b.workflow_id).join(', ')} is running on ${target}` : 'no backup batch is running',
  });
  const patches = (await db.query<{ workflow_id: string }>(`SELECT workflow_id FROM nightshift.patch_run WHERE state = 'running'`)).rows;
  prerequisites.push({
    name: 'no other patch run',
    ok: patches.length === 0,
    detail: patches.length ? `patch run ${patches.map((p) => p.workflow_id).join(', ')} is running on ${target}` : 'no other patch run',
  });
  // a rollback restores dossiers and lowers levels: a patch run at the same moment would patch what is being put
  // back (drill R: a retry claimed during a rollback of the same run applied to dossiers the rollback then restored)
  const rollbacks = await runningRollbackRuns(db);
  prerequisites.push({
    name: 'no rollback',
    ok: rollbacks.length === 0,
    detail: rollbacks.length ? `rollback ${rollbacks.map((r) => r.workflowId).join(', ')} is running on ${target}` : 'no rollback is running',
  });
  // a restore run puts dossiers back as a backup left them: a patch run or a rollback meanwhile would patch or restore
  // what it then replaces, or be replaced by it
  const restores = await runningRestoreRuns(db);
  prerequisites.push({
    name: 'no restore run',
    ok: restores.length === 0,
    detail: restores.length ? `restore run ${restores.map((r) => r.workflowId).join(', ')} is running on ${target}` : 'no restore run is running',
  });
  const windows = (
    await db.query<{ workflow_id: string; phase: string }>(`SELECT workflow_id, phase FROM nightshift.maintenance_window WHERE state = 'in_progress'`)
  ).rows;
  // a window scheduled but not begun is named: "run inside one" would send the operator to schedule a second
  const scheduled = windows.length
    ? undefined
    : (await db.query<{ workflow_id: string; starts_at: Date }>(`SELECT workflow_id, starts_at FROM nightshift.maintenance_window WHERE state = 'scheduled' ORDER BY starts_at LIMIT 1`)).rows[0];
  // single-user mode: a run started by hand waits until the window has closed its sessions (closing_sessions and
  // draining still have users in); a payload is started by its window in that phase (working) anyway
  const userFree = windows.filter((w) => SINGLE_USER_PHASES.has(w.phase));
  const windowOk = windowWorkflowId ? windows.some((w) => w.workflow_id === windowWorkflowId) : userFree.length > 0;
  const closing = windows.find((w) => !SINGLE_USER_PHASES.has(w.phase));
  prerequisites.push({
    name: 'maintenance window in progress',
    ok: windowOk,
    detail: windowOk
      ? windowWorkflowId
        ? `payload of ${windowWorkflowId} (single-user mode)`
        : `window ${userFree[0]!.workflow_id} is in progress (single-user mode)`
      : windowWorkflowId
        ? `the window ${windowWorkflowId} is not in progress on ${target}`
        : closing
          ? `window ${closing.workflow_id} is in progress on ${target} but still closing its sessions (phase ${closing.phase}): ` +
            `users may still be in; run again once it reaches phase working ('nightshift maintenance status')`
          : scheduled
            ? `no maintenance window is in progress on ${target}: window ${scheduled.workflow_id} is scheduled to start at ${scheduled.starts_at.toISOString()}; ` +
              `run again once it reaches phase working ('nightshift maintenance status')`
            : `no maintenance window is in progress on ${target}: run inside one ('nightshift maintenance schedule'; a patch can also be its payload, --payload patch)`,
  });
  return prerequisites;
}
