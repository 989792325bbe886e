import crypto from 'node:crypto';
import { startMaintenanceWindow } from '../../starts';
import { completeMaintenanceUpdate, type MaintenanceStatus, type MaintenanceWindowResult } from '../../workflows/maintenance-window.api';
import { createTestWorker, devServerClient, quietRuntime } from '../helpers/env';
import { createActivities } from '../../workers/activities';
import { bodyOf, eventually, subjectOf, windowInput, withMailStack } from './maintenance-helpers';
import { demoDossiers } from './patch-helpers';
import { block, halfWayPatchDir, rollbackWindowInput } from './patch-rollback-helpers';

/**
 * The dossiers a patch run never started are counted where its dossiers not done are: `maintenance list` (the window's
 * outcome, in its row) and the window's completion mail, as `maintenance status` counts them (patch_run.not_started).
 * Dev server, real time, real SMTP.
 */

jest.setTimeout(240_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

test('AWS SSM MaxErrors R-PI-2 R-MW-10: a patch run started by hand in the window, --max-failures stopped (4 failed, 7 not started): maintenance list and the completion mail count both', async () => {
  await withMailStack(async ({ smtp, stack, mail }) => {
    const pool = stack.pools.get('main');
    const to = 'ops-hand-run@example.com';
    const input = windowInput('main', Date.now(), { inMinutes: 2 / 60, graceSeconds: 0, notify: [to] });
    const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
    const result = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `hand run counts ${crypto.randomUUID()}` });
      await eventually(() => h.query<MaintenanceStatus>('status'), (s) => s.phase === 'working', 'the window working', 60_000);
      // the ledger as a hand-started `patch integrate --max-failures 3` leaves it (tester B): 4 failed, 7 not started
      const run = await pool.query<{ id: string }>(`INSERT INTO nightshift.patch_run (workflow_id, mode, state, not_started, finished_at) VALUES ('patch/main/by-hand', 'integrate', 'partial', 7, now()) RETURNING id`);
      for (const code of ['H1', 'H2', 'H3', 'H4']) {
        await pool.query(`INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, error) VALUES ($1, $2, 'failed', 0, 0, 'boom')`, [run.rows[0]!.id, code]);
      }
      await h.executeUpdate(completeMaintenanceUpdate);
      return (await h.result()) as MaintenanceWindowResult;
    });
    expect(result.status.linkedRuns).toEqual([expect.objectContaining({ kind: 'patch', workflowId: 'patch/main/by-hand', state: 'partial', notDone: 4, notStarted: 7 })]);
    // what `maintenance list` prints after the window's state (it said "hand-started patch partial (4 dossier(s) not done)")
    const row = await pool.query<{ outcome: string | null }>('SELECT outcome FROM nightshift.maintenance_window');
    expect(row.rows).toEqual([{ outcome: 'hand-started patch partial (4 dossier(s) not done, 7 not started: --max-failures stopped it)' }]);
    const done = bodyOf(smtp.messages.find((m) => m.to.includes(to) && subjectOf(m.raw).includes('Maintenance terminée'))!.raw);
    expect(done).toContain("- intégration des correctifs patch/main/by-hand : terminé avec des dossiers en erreur (4 dossier(s) non traité(s), 7 non commencé(s) car --max-failures a arrêté l'intégration)");
  });
});

test('R-PI-4 R-PI-11 R-MW-9: backup+patch --on-failure rollback --notify, the supervisor failed: the mail, the list and the next step count the other dossiers as not started, not "1 dossier(s) non traité(s)" alone', async () => {
  await withMailStack(async ({ smtp, stack, mail }) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 4);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-supervisor-counts');
    // patch 2 fails in the supervisor DEMO0001: the run stops before the 3 others
    await block(pool, ['DEMO0001']);
    const to = 'ops-supervisor@example.com';
    const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
    const window = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, rollbackWindowInput(dir, [to]), { taskQueue: stack.config.temporal.taskQueue, summary: `supervisor counts ${crypto.randomUUID()}` });
      return (await h.result()) as MaintenanceWindowResult;
    });
    expect(window.status.state).toBe('completed');
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'failed', notStarted: 3, supervisorFailed: true });
    expect(window.status.rollbackRun).toMatchObject({ state: 'completed', restored: 1 });
    const runId = window.status.payloadRun!.runId;
    expect(window.status.nextSteps).toEqual([
      {
        text: 'Fix the rolled-back dossiers, then patch them again inside a window; the retry also takes the 3 dossier(s) the patch run did not start (its supervisor failed)',
        command: `nightshift patch retry --target main --run ${runId}`,
      },
    ]);
    const row = await pool.query<{ outcome: string | null }>('SELECT outcome FROM nightshift.maintenance_window');
    expect(row.rows[0]!.outcome).toContain('payload patch failed (3 not started: its supervisor failed)');
    const done = bodyOf(smtp.messages.find((m) => m.to.includes(to) && subjectOf(m.raw).includes('Maintenance terminée'))!.raw);
    expect(done).toContain(`(n° ${runId}) — en échec (1 dossier(s) non traité(s), 3 non commencé(s) car le superviseur a échoué)`);
  });
});
