import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import globalSetup from '../setup/global-setup';
import globalTeardown from '../setup/global-teardown';
import { createRegistryActivities } from '../../activities/registry';
import { qualified } from '../../db/ident';
import { createActivities } from '../../workers/activities';
import { createMailTransport } from '../../workers/resources';
import { backupBatchWorkflowId, backupMailWorkflowId, batchResult, type BackupBatchInput } from '../../workflows/backup-batch.api';
import { partialPatchResult, patchWorkflowId, type PatchIntegrationInput } from '../../workflows/patch-integration.api';
import { completeMaintenanceUpdate, maintenanceMailWorkflowId, maintenanceStatusQuery, type MaintenanceMailInput, type MaintenanceWindowInput } from '../../workflows/maintenance-window.api';
import { WORKFLOW, type Workflows } from '../../workflows/contracts';
import { startBackupBatch, startBackupDossier, startMaintenanceWindow, startPatchRun, startRestoreDossier } from '../../starts';
import { createTestStack, createTestWorker, devServerClient, tempDir, type TestStack } from '../helpers/env';
import { createDossiers, freePort, openSession, setCommon, startSmtp, waitFor } from '../workflows/backup-batch-helpers';
import { blockablePatches, closeWindows, demoDossiers, openWindow } from '../workflows/patch-helpers';
import { insertSession, sessions } from '../workflows/maintenance-helpers';
import { halfWayPatches, block } from '../workflows/patch-rollback-helpers';
import { partialRollbackResult, patchRollbackWorkflowId } from '../../workflows/patch-rollback.api';
import { startPatchRollback } from '../../starts';
import { startBackupVerify } from '../../starts';
import { createBackupActivities } from '../../activities/backup';
import { backupVerifyWorkflowId, problemsVerifyResult, verifyMailWorkflowId } from '../../workflows/backup-verify.api';
import { startBackupPrune } from '../../starts';
import { backupPruneWorkflowId } from '../../workflows/backup-prune.api';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { startRestoreRun } from '../../starts';
import { partialRestoreRunResult, restoreRunWorkflowId } from '../../workflows/backup-restore-run.api';
import { backUp, lose } from '../workflows/backup-restore-run-helpers';

/**
 * Records real histories of every registered workflow for the replay test (test/workflows/replay.test.ts),
 * one folder per release: test/histories/<package.json version>/. Run it when a release is cut (the folders
 * of earlier releases stay: their runs may still be in flight) or after a change made on purpose to this
 * release's workflows:
 *   npm run histories [-- name-filter ...]      (names: dossier, backup-batch, patch, maintenance, window-payload, rollback, verify, prune, restore-run)
 * It starts the same servers as the test suite (embedded PostgreSQL, Temporal dev server, an SMTP server),
 * drives each workflow through its interesting paths with a real worker, writes one JSON history per run,
 * then derives the deliberately broken history of test/histories/broken/ from this release's backup-dossier.json.
 */

const VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
/** HISTORIES_OUT: record elsewhere (a trial run that leaves this release's histories as they are) */
const OUT = process.env.HISTORIES_OUT ?? path.join(__dirname, VERSION);
const BROKEN = process.env.HISTORIES_OUT ? path.join(OUT, 'broken') : path.join(__dirname, 'broken');

interface Ctx {
  client: Client;
  connection: NativeConnection;
  smtpPort: number;
}

/** The canonical JSON history, as `temporal workflow show --output json` prints it (what historyFromJSON reads). */
function historyJson(workflowId: string, runId?: string): string {
  return execFileSync(
    process.env.NS_TEST_TEMPORAL_CLI!,
    [
      'workflow', 'show', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []),
      '--address', process.env.NS_TEST_TEMPORAL_ADDRESS!, '--output', 'json',
    ],
    { encoding: 'utf8' },
  );
}

function save(file: string, workflowId: string, runId?: string): void {
  const json = historyJson(workflowId, runId);
  const events = (JSON.parse(json) as { events: unknown[] }).events.length;
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, file), json);
  console.log(`${path.relative(process.cwd(), path.join(OUT, file))}: ${events} events`);
}

function check(ok: boolean, what: string, got: unknown): void {
  if (!ok) throw new Error(`the recording did not take the intended path: ${what} (got ${JSON.stringify(got)})`);
}

/** A fresh database and data folder, a worker with every activity (mail included), for one recording. */
async function withWorker(ctx: Ctx, fn: (stack: TestStack) => Promise<void>): Promise<void> {
  const stack = await createTestStack({ NIGHTSHIFT_SMTP_PORT: String(ctx.smtpPort), NIGHTSHIFT_SMTP_SEND_DELAY_S: '0' });
  const mail = createMailTransport(stack.config);
  try {
    const worker = await createTestWorker(stack, ctx.connection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
    await worker.runUntil(fn(stack));
  } finally {
    mail.close();
    await stack.close();
  }
}

/** One backup of a dossier, then its restore under another code. */
async function recordDossier(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    await createRegistryActivities({ config: stack.config, pools: stack.pools }).createDossier('main', { code: 'REPLAY', label: 'Rejeu' });
    const backup = await startBackupDossier(ctx.client, { target: 'main', code: 'REPLAY', reason: 'manual', includeDocuments: true }, { taskQueue: stack.config.temporal.taskQueue });
    const { file } = await backup.result();
    save('backup-dossier.json', backup.workflowId);
    const restore = await startRestoreDossier(ctx.client, { target: 'main', file, as: 'REPLAY2', replace: false }, { taskQueue: stack.config.temporal.taskQueue });
    await restore.result();
    save('restore-dossier.json', restore.workflowId);
  });
}

/**
 * The backup batch: chunks of one dossier and two chunks per run, so it continues as new (first and last
 * run recorded); one dossier in use fails, so the report is mailed by the child workflow (recorded too).
 */
async function recordBackupBatch(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await createDossiers(stack, [{ code: 'R1' }, { code: 'R2' }, { code: 'R3' }, { code: 'R4' }, { code: 'R5' }]);
    await setCommon(pool, 'report-recipients', ['ops@example.com']);
    const closeSession = await openSession(pool, 'R3');
    const input: BackupBatchInput = { target: 'main', trigger: 'manual', tuning: { chunkSize: 1, window: 2, concurrency: 1, maxChunksPerRun: 2 } };
    const handle = await startBackupBatch(ctx.client, input, { taskQueue: stack.config.temporal.taskQueue, workflowId: backupBatchWorkflowId('main', 'replay') });
    const result = await batchResult(handle.result());
    check(result.state === 'partial' && result.total === 5 && result.failed === 1 && result.mail, 'a partial run of 5 with a mail', result);
    await closeSession();
    const last = await handle.describe();
    check(last.runId !== handle.firstExecutionRunId, 'at least one continue-as-new', last.runId);
    save('backup-batch.json', handle.workflowId, handle.firstExecutionRunId);
    save('backup-batch-continued.json', handle.workflowId, last.runId);

    const mail = ctx.client.workflow.getHandle(backupMailWorkflowId(handle.workflowId));
    const sent = (await mail.result()) as { sent: boolean };
    check(sent.sent, 'the report mailed', sent);
    save('backup-report-mail.json', mail.workflowId);
  });
}

/**
 * Patch integration in an open window: supervisor first, dossiers in parallel chunks on the fan-out engine, one
 * dossier failing (the run FAILS with PatchRunPartial); two chunks per workflow run, so the first run (claim,
 * supervisor, chunks, continue-as-new) and the last (from the carried state to the finish) are both kept.
 */
async function recordPatch(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 5);
    await openWindow(pool);
    const dir = tempDir('patches');
    await blockablePatches(dir, [1, 2]);
    await pool.query(`CREATE TABLE ${qualified('d_DEMO0003', 'blocker')} (x int)`);
    const input: PatchIntegrationInput = { target: 'main', mode: 'integrate', dir, tuning: { chunkSize: 1, concurrency: 2, maxChunksPerRun: 2, detailsEverySeconds: 1 } };
    const handle = await startPatchRun(ctx.client, input, { taskQueue: stack.config.temporal.taskQueue, workflowId: patchWorkflowId('main', 'replay'), summary: `integrate ${dir}` });
    const r = await handle.result().then(
      () => undefined,
      (err: unknown) => partialPatchResult(err),
    );
    check(r?.state === 'partial' && r.failures.length === 1 && r.supervisor?.status === 'ok', 'supervisor ok, one dossier failed (PatchRunPartial)', r);
    await closeWindows(pool);
    const last = await ctx.client.workflow.getHandle(handle.workflowId).describe();
    check(last.runId !== handle.firstExecutionRunId, 'the run continued as new', last.runId);
    save('patch-integration.json', handle.workflowId, handle.firstExecutionRunId);
    save('patch-integration-continued.json', handle.workflowId, last.runId);
  });
}

/**
 * A deployment window backup+patch told to roll back on failure (R-PI-11): one dossier fails half-way, the
 * window starts the rollback child for it (patched('window-on-failure-rollback')), then checks and restores.
 */
async function recordWindowRollback(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 3);
    const dir = path.join(stack.config.backupDir, 'patches', 'window-rollback');
    fs.mkdirSync(dir, { recursive: true });
    await halfWayPatches(dir);
    await block(pool, ['DEMO0002']);
    const startMs = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const input: MaintenanceWindowInput = {
      target: 'main',
      type: 'deployment',
      startsAt: new Date(startMs).toISOString(),
      endsAt: new Date(startMs + 30 * 60_000).toISOString(),
      message: 'replay recording, backup+patch with rollback on failure',
      payload: { kind: 'backup+patch', manifest: dir },
      onFailure: 'rollback',
      graceSeconds: 1,
      startWhenDrained: false,
      dbDrain: false,
      notify: [],
      displayTimeZone: 'Europe/Paris',
    };
    const handle = await startMaintenanceWindow(ctx.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: 'maintenance deployment on main, backup+patch, rollback on failure' });
    const r = await handle.result();
    check(r.status.state === 'completed' && r.status.rollbackRun?.restored === 1, 'completed after rolling back its one failed dossier', r.status);
    save('maintenance-window-on-failure-rollback.json', handle.workflowId);
  });
}

/**
 * Patch rollback (R-PI-11): a patch run with restore points where one dossier fails half-way, then the whole
 * run rolled back, two dossiers per chunk and two chunks per workflow run (continue-as-new kept), one restore
 * point's file gone (that dossier fails: the rollback FAILS with RollbackRunPartial).
 */
async function recordRollback(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 6);
    await openWindow(pool);
    const dir = tempDir('patches');
    await halfWayPatches(dir);
    await block(pool, ['DEMO0003']);
    const patch = await startPatchRun(ctx.client, { target: 'main', mode: 'integrate', dir, restorePoints: true }, { taskQueue: stack.config.temporal.taskQueue, summary: 'integrate with restore points' });
    const run = await patch.result().then(
      () => undefined,
      (err: unknown) => partialPatchResult(err),
    );
    check(run?.state === 'partial' && run.failures.length === 1, 'one dossier failed half-way', run);
    const gone = await pool.query<{ file: string }>(`SELECT g.file FROM nightshift.patch_run_item i JOIN nightshift.backup_generation g ON g.id = i.restore_point WHERE i.run_id = $1 AND i.code = 'DEMO0005'`, [run!.runId]);
    fs.rmSync(gone.rows[0]!.file);
    const handle = await startPatchRollback(ctx.client, { target: 'main', patchRun: run!.runId!, tuning: { chunkSize: 2, concurrency: 2, maxChunksPerRun: 2, detailsEverySeconds: 1 } }, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: patchRollbackWorkflowId('main', 'replay'),
      summary: `roll back patch run ${run!.runId}`,
    });
    const r = await handle.result().then(
      () => undefined,
      (err: unknown) => partialRollbackResult(err),
    );
    check(r?.state === 'partial' && r.failuresTotal === 1 && r.restored >= 4, 'the others restored, one failed (RollbackRunPartial)', r);
    await closeWindows(pool);
    const last = await ctx.client.workflow.getHandle(handle.workflowId).describe();
    check(last.runId !== handle.firstExecutionRunId, 'the rollback continued as new', last.runId);
    save('patch-rollback.json', handle.workflowId, handle.firstExecutionRunId);
    save('patch-rollback-continued.json', handle.workflowId, last.runId);
  });
}

/**
 * The maintenance window (payload none) in real time: starts two seconds from now, two live sessions are
 * told to close, one logs out, the other is forced after the acknowledgement delay; the database drain
 * runs too; completed through the update, with the closing mail.
 */
async function recordMaintenance(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await insertSession(pool, 'alice');
    await insertSession(pool, 'bob');
    const startMs = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const input: MaintenanceWindowInput = {
      target: 'main',
      type: 'database',
      startsAt: new Date(startMs).toISOString(),
      endsAt: new Date(startMs + 10 * 60_000).toISOString(),
      message: 'replay recording',
      payload: { kind: 'none' },
      graceSeconds: 3,
      startWhenDrained: false,
      dbDrain: true,
      notify: ['ops@example.com'],
      displayTimeZone: 'Europe/Paris',
    };
    const handle = await startMaintenanceWindow(ctx.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: 'maintenance database on main' });
    // alice acknowledges the close order (logs out); bob never does and is forced
    await waitFor('the close orders', async () => (await sessions(pool)).get('alice')?.close_requested_at ?? undefined);
    await pool.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE user_name = 'alice'`);
    await waitFor('the work phase', async () => ((await handle.query(maintenanceStatusQuery)).phase === 'working' ? true : undefined), 60_000);
    await handle.executeUpdate(completeMaintenanceUpdate);
    const r = await handle.result();
    check(r.status.state === 'completed' && r.status.forcedSessions === 1 && r.mailSent, 'completed with one forced session, mailed', r);
    save('maintenance-window.json', handle.workflowId);
  });
}

/**
 * A window whose payload starts a child workflow (R-MW-9): payload backup of two dossiers, starting two
 * seconds from now with nobody logged in; the child batch runs, then the checks and the restore.
 */
async function recordWindowPayload(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    await createDossiers(stack, [{ code: 'W1' }, { code: 'W2' }, { code: 'W3' }]);
    const startMs = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const input: MaintenanceWindowInput = {
      target: 'main',
      type: 'database',
      startsAt: new Date(startMs).toISOString(),
      endsAt: new Date(startMs + 30 * 60_000).toISOString(),
      message: 'replay recording, backup payload',
      payload: { kind: 'backup', dossiers: ['W1', 'W2'] },
      graceSeconds: 1,
      startWhenDrained: false,
      dbDrain: false,
      notify: [],
      displayTimeZone: 'Europe/Paris',
    };
    const handle = await startMaintenanceWindow(ctx.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: 'maintenance database on main, backup payload' });
    const r = await handle.result();
    check(r.status.state === 'completed', 'completed after its backup payload', r);
    const child = (await stack.pools.get('main').query<{ workflow_id: string }>('SELECT workflow_id FROM nightshift.backup_run')).rows;
    check(child.length === 1, 'one child backup run', child);
    const events = (JSON.parse(historyJson(handle.workflowId)) as { events: Record<string, unknown>[] }).events;
    check(events.some((e) => 'startChildWorkflowExecutionInitiatedEventAttributes' in e), 'a child workflow started', events.length);
    save('maintenance-window-backup-payload.json', handle.workflowId);
    save('backup-batch-window-child.json', child[0]!.workflow_id);
  });
}

/**
 * Verification of kept generations (R-BK-13): three generations, one file gone, every one restored, one per
 * chunk and two chunks per workflow run (continue-as-new kept); the problem FAILS the run (BackupVerifyProblems)
 * and its report is mailed by the child workflow (recorded too).
 */
async function recordVerify(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await createDossiers(stack, [{ code: 'V1' }, { code: 'V2' }, { code: 'V3' }]);
    await setCommon(pool, 'report-recipients', ['ops@example.com']);
    const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
    for (const code of ['V1', 'V2', 'V3']) await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const gone = await pool.query<{ file: string }>(`SELECT file FROM nightshift.backup_generation WHERE code = 'V2'`);
    fs.rmSync(gone.rows[0]!.file);
    const handle = await startBackupVerify(ctx.client, { target: 'main', full: true, trigger: 'manual', tuning: { chunkSize: 1, window: 1, concurrency: 1, maxChunksPerRun: 2 } }, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: backupVerifyWorkflowId('main', 'replay'),
    });
    const r = await handle.result().then(
      () => undefined,
      (err: unknown) => problemsVerifyResult(err),
    );
    check(r?.state === 'problems' && r.problems === 1 && r.total === 3 && r.mail, 'one missing generation of three, mailed (BackupVerifyProblems)', r);
    const last = await ctx.client.workflow.getHandle(handle.workflowId).describe();
    check(last.runId !== handle.firstExecutionRunId, 'the verification continued as new', last.runId);
    const mail = ctx.client.workflow.getHandle(verifyMailWorkflowId(handle.workflowId));
    await mail.result();
    save('backup-verify.json', handle.workflowId, handle.firstExecutionRunId);
    save('backup-verify-continued.json', handle.workflowId, last.runId);
    save('backup-verify-mail.json', mail.workflowId);
  });
}

/**
 * The prune by retention (R-BK-11): three dossiers of three generations, last=1, one dossier per chunk and two
 * chunks per workflow run (continue-as-new kept); two generations of each deleted.
 */
async function recordPrune(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    await createDossiers(stack, [{ code: 'P1' }, { code: 'P2' }, { code: 'P3' }]);
    const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
    for (const code of ['P1', 'P2', 'P3']) {
      for (const days of [2, 1, 0]) {
        const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
        await pool.query('UPDATE nightshift.backup_generation SET snapshot_at = now() - make_interval(days => $2) WHERE id = $1', [r.generationId, days]);
      }
    }
    await setRetentionSetting(pool, { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
    const handle = await startBackupPrune(ctx.client, { target: 'main', trigger: 'manual', tuning: { chunkSize: 1, window: 1, concurrency: 1, maxChunksPerRun: 2 } }, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: backupPruneWorkflowId('main', 'replay'),
    });
    const r = await handle.result();
    check(r.state === 'completed' && r.deleted === 6 && r.total === 3, 'six generations of three dossiers deleted', r);
    const last = await ctx.client.workflow.getHandle(handle.workflowId).describe();
    check(last.runId !== handle.firstExecutionRunId, 'the prune continued as new', last.runId);
    save('backup-prune.json', handle.workflowId, handle.firstExecutionRunId);
    save('backup-prune-continued.json', handle.workflowId, last.runId);
  });
}

/**
 * Bulk restore run (`backup restore --codes --at DATE`): six dossiers backed up, four lost, one of the asked without a
 * generation at or before DATE (it fails: the run FAILS with RestoreRunPartial), one there (kept), two dossiers per chunk
 * and two chunks per workflow run (continue-as-new kept).
 */
async function recordRestoreRun(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 6);
    await backUp(stack, codes, '2026-12-01T10:00:00Z');
    await pool.query(`UPDATE nightshift.backup_generation SET snapshot_at = '2026-12-03T10:00:00Z' WHERE code = 'DEMO0006'`);
    await lose(pool, ['DEMO0001', 'DEMO0002', 'DEMO0003', 'DEMO0004', 'DEMO0006']);
    const handle = await startRestoreRun(
      ctx.client,
      { target: 'main', codes, at: '2026-12-02T00:00:00Z', replace: false, from: 'auto', tuning: { chunkSize: 2, concurrency: 2, maxChunksPerRun: 2, detailsEverySeconds: 1 } },
      { taskQueue: stack.config.temporal.taskQueue, workflowId: restoreRunWorkflowId('main', 'replay'), summary: 'restore six dossiers as at 2026-12-02' },
    );
    const r = await handle.result().then(
      () => undefined,
      (err: unknown) => partialRestoreRunResult(err),
    );
    check(r?.state === 'partial' && r.failuresTotal === 1 && r.restored === 4 && r.kept === 1, 'four restored, one kept, one failed (RestoreRunPartial)', r);
    const last = await ctx.client.workflow.getHandle(handle.workflowId).describe();
    check(last.runId !== handle.firstExecutionRunId, 'the restore run continued as new', last.runId);
    save('backup-restore-run.json', handle.workflowId, handle.firstExecutionRunId);
    save('backup-restore-run-continued.json', handle.workflowId, last.runId);
  });
}

/**
 * The broken history the replay test must see FAIL: this release's backup-dossier history with its first
 * activity renamed, as if it had been recorded by an incompatible older version of the workflow.
 */
function writeBroken(): void {
  const source = path.join(OUT, 'backup-dossier.json');
  const history = JSON.parse(fs.readFileSync(source, 'utf8')) as { events: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[] };
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes)?.activityTaskScheduledEventAttributes;
  if (!scheduled) throw new Error(`${source} schedules no activity`);
  scheduled.activityType.name = `${scheduled.activityType.name}V0`;
  fs.mkdirSync(BROKEN, { recursive: true });
  const file = path.join(BROKEN, 'backup-dossier-activity-renamed.json');
  fs.writeFileSync(file, `${JSON.stringify(history, null, 2)}\n`);
  console.log(`broken/${path.basename(file)}: first activity renamed to ${scheduled.activityType.name}`);
}

/** A window's completion mail handed to its own workflow (R-MW-10: the window could not send it), sent at its first try. */
async function recordMaintenanceMail(ctx: Ctx): Promise<void> {
  await withWorker(ctx, async (stack) => {
    const now = Date.now();
    const input: MaintenanceMailInput = {
      target: 'main',
      mail: { kind: 'completed', to: ['ops@example.com'], type: 'database', startsAt: new Date(now - 3600_000).toISOString(), endsAt: new Date(now).toISOString() },
    };
    const handle = await ctx.client.workflow.start<Workflows['maintenanceMailWorkflow']>(WORKFLOW.maintenanceMail, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: maintenanceMailWorkflowId('maintenance/main', 'replay', 'completed', 1),
      args: [input],
    });
    const sent = await handle.result();
    check(sent.sent, 'the mail sent', sent);
    save('maintenance-mail.json', handle.workflowId);
  });
}

const RECORDINGS: Record<string, (ctx: Ctx) => Promise<void>> = {
  dossier: recordDossier,
  'backup-batch': recordBackupBatch,
  patch: recordPatch,
  maintenance: recordMaintenance,
  'maintenance-mail': recordMaintenanceMail,
  'window-payload': recordWindowPayload,
  rollback: recordRollback,
  'window-rollback': recordWindowRollback,
  verify: recordVerify,
  prune: recordPrune,
  'restore-run': recordRestoreRun,
};

async function record(filters: string[]): Promise<void> {
  const chosen = Object.entries(RECORDINGS).filter(([name]) => !filters.length || filters.some((f) => name.includes(f)));
  if (!chosen.length) throw new Error(`no recording matches ${filters.join(', ')} (known: ${Object.keys(RECORDINGS).join(', ')})`);
  await globalSetup();
  const temporal = await devServerClient();
  const smtpPort = await freePort();
  const smtp = await startSmtp(smtpPort);
  try {
    for (const [name, fn] of chosen) {
      console.log(`recording ${name}`);
      await fn({ client: temporal.client, connection: temporal.nativeConnection, smtpPort });
    }
    if (fs.existsSync(path.join(OUT, 'backup-dossier.json'))) writeBroken();
  } finally {
    await smtp.close();
    await temporal.close();
    await globalTeardown();
  }
}

record(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
