import { WorkflowNotFoundError } from '@temporalio/client';
import { ZodError } from 'zod';
import { WORKFLOW_ID_TIMESTAMP } from '../../domain/workflow-id';
import { backupBatchSummary, scheduledBackupBatchAction, startBackupBatch, startBackupDossier, startBackupVerify, startMaintenanceWindow, startPatchRun, startRestoreDossier } from '../../starts';
import type { MaintenanceWindowInput } from '../../workflows/maintenance-window.api';
import { NightshiftDossier, NightshiftKind, NightshiftPhase, NightshiftTarget } from '../../workflows/search-attributes';
import { devServerClient, quietRuntime, uniqueName } from '../helpers/env';

/**
 * The typed starts (starts/index.ts) on the dev server, with no worker: what each start leaves on the server
 * (id, summary, search attributes) and that a bad input starts nothing.
 */

jest.setTimeout(60_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
const taskQueue = uniqueName('nobody');
const started: string[] = [];

beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  for (const id of started) await temporal.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await temporal?.close();
});

async function shown(workflowId: string) {
  started.push(workflowId);
  const d = await temporal.client.workflow.getHandle(workflowId).describe();
  const a = d.typedSearchAttributes;
  return {
    type: d.type,
    summary: await d.staticSummary(),
    attributes: { target: a.get(NightshiftTarget), kind: a.get(NightshiftKind), phase: a.get(NightshiftPhase), dossier: a.get(NightshiftDossier) },
  };
}

const notStarted = (workflowId: string) => expect(temporal.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

test('R-BK-1 a batch and a patch run get the one UTC id format, a summary and their search attributes (no NightshiftDossier: they have many)', async () => {
  const target = uniqueName('st').toLowerCase();
  const now = new Date('2026-12-02T04:35:30.123Z');
  const batch = await startBackupBatch(temporal.client, { target, only: ['A1', 'B2'] }, { taskQueue, now });
  expect(batch.workflowId).toBe(`backup/${target}/20261202T043530Z`);
  expect(batch.workflowId.split('/')[2]).toMatch(WORKFLOW_ID_TIMESTAMP);
  expect(await shown(batch.workflowId)).toEqual({
    type: 'backupBatchWorkflow',
    summary: `Back up 2 chosen dossiers of target ${target}`,
    attributes: { target, kind: 'backup-batch', phase: 'claiming', dossier: undefined },
  });

  const patch = await startPatchRun(temporal.client, { target, mode: 'revalidate' }, { taskQueue, now });
  expect(patch.workflowId).toBe(`patch/${target}/20261202T043530Z`);
  expect(await shown(patch.workflowId)).toEqual({
    type: 'patchIntegrationWorkflow',
    summary: `Patch integration (revalidate) on target ${target}`,
    attributes: { target, kind: 'patch', phase: 'starting', dossier: undefined },
  });
});

test('R-BK-13 R-BK-1 a timestamped run id is never reused: a second start in the same second (even after the first closed) takes the next second', async () => {
  const target = uniqueName('st').toLowerCase();
  const now = new Date('2026-12-02T23:29:29.500Z');
  const first = await startBackupVerify(temporal.client, { target, trigger: 'manual' }, { taskQueue, now });
  expect(first.workflowId).toBe(`backup-verify/${target}/20261202T232929Z`);
  started.push(first.workflowId);
  await first.terminate('closed before the second start');
  const second = await startBackupVerify(temporal.client, { target, trigger: 'manual' }, { taskQueue, now });
  expect(second.workflowId).toBe(`backup-verify/${target}/20261202T232930Z`);
  const third = await startBackupVerify(temporal.client, { target, trigger: 'manual' }, { taskQueue, now });
  expect(third.workflowId).toBe(`backup-verify/${target}/20261202T232931Z`);
  started.push(second.workflowId, third.workflowId);
  const patch1 = await startPatchRun(temporal.client, { target, mode: 'revalidate' }, { taskQueue, now });
  const patch2 = await startPatchRun(temporal.client, { target, mode: 'revalidate' }, { taskQueue, now });
  started.push(patch1.workflowId, patch2.workflowId);
  expect(patch2.workflowId).toBe(`patch/${target}/20261202T232930Z`);
});

test('R-BK-9 single-dossier backups and restores fill NightshiftDossier, so "this dossier\'s history" finds them', async () => {
  const target = uniqueName('st').toLowerCase();
  const backup = await startBackupDossier(temporal.client, { target, code: 'D0042' }, { taskQueue });
  expect(backup.workflowId).toBe(`backup-dossier/${target}/D0042`);
  expect(await shown(backup.workflowId)).toEqual({
    type: 'backupDossierWorkflow',
    summary: 'Back up dossier D0042 (manual)',
    attributes: { target, kind: 'backup-dossier', phase: 'starting', dossier: 'D0042' },
  });
  const event = await startBackupDossier(temporal.client, { target, code: 'D0042', reason: 'cloture' }, { taskQueue, event: 'closing' });
  expect(event.workflowId).toBe(`backup-dossier/${target}/D0042/closing`);
  started.push(event.workflowId);

  const restore = await startRestoreDossier(temporal.client, { target, file: '/tmp/BD0042.SVG', as: 'D0043', replace: false }, { taskQueue });
  expect(restore.workflowId).toBe(`restore-dossier/${target}/D0043`);
  expect((await shown(restore.workflowId)).attributes).toEqual({ target, kind: 'restore-dossier', phase: 'starting', dossier: 'D0043' });
});

test('R-MW-2 a window starts under maintenance/{target} with its summary and attributes', async () => {
  const target = uniqueName('st').toLowerCase();
  const start = Date.now() + 3600_000;
  const input: MaintenanceWindowInput = {
    target,
    type: 'database',
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + 1800_000).toISOString(),
    payload: { kind: 'none' },
    graceSeconds: 60,
    startWhenDrained: false,
    dbDrain: false,
    notify: [],
  };
  const h = await startMaintenanceWindow(temporal.client, input, { taskQueue, summary: 'database maintenance, test' });
  expect(h.workflowId).toBe(`maintenance/${target}`);
  expect(await shown(h.workflowId)).toEqual({
    type: 'maintenanceWindowWorkflow',
    summary: 'database maintenance, test',
    attributes: { target, kind: 'maintenance', phase: 'scheduled', dossier: undefined },
  });
});

test('every start checks its input with the contract schema BEFORE starting: a bad input is a ZodError and nothing runs', async () => {
  const target = uniqueName('st').toLowerCase();
  const now = new Date('2026-12-02T05:00:00Z');
  const refusals: [Promise<unknown>, string][] = [
    [startBackupBatch(temporal.client, { target, only: ['../etc'] }, { taskQueue, now }), `backup/${target}/20261202T050000Z`],
    [startBackupBatch(temporal.client, { target, tuning: { chunkSize: 0 } }, { taskQueue, now }), `backup/${target}/20261202T050000Z`],
    [startPatchRun(temporal.client, { target, mode: 'integrate', dossiers: ['bad code!'] }, { taskQueue, now }), `patch/${target}/20261202T050000Z`],
    [startBackupDossier(temporal.client, { target, code: 'D1\u0000' }, { taskQueue }), `backup-dossier/${target}/D1\u0000`],
    [startRestoreDossier(temporal.client, { target, file: 'relative/B1.SVG', as: 'D1', replace: false }, { taskQueue }), `restore-dossier/${target}/D1`],
    [
      startMaintenanceWindow(
        temporal.client,
        { target, type: 'database', startsAt: '2026-12-02T06:00:00Z', endsAt: '2026-12-02T05:00:00Z', payload: { kind: 'none' }, graceSeconds: 0, startWhenDrained: false, dbDrain: false, notify: [] },
        { taskQueue },
      ),
      `maintenance/${target}`,
    ],
  ];
  for (const [refused, id] of refusals) {
    await expect(refused).rejects.toBeInstanceOf(ZodError);
    await notStarted(id);
  }
  // a bad target name is refused too, whatever the workflow
  await expect(startBackupBatch(temporal.client, { target: 'Bad Target' }, { taskQueue, now })).rejects.toBeInstanceOf(ZodError);
});

test('R-BK-1 the nightly Schedule action is typed, summarised and carries the search attributes', () => {
  const action = scheduledBackupBatchAction('main', 'tq');
  expect(action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'backupBatchWorkflow',
    workflowId: 'backup/main/scheduled',
    args: [{ target: 'main', trigger: 'schedule' }],
    staticSummary: 'Nightly backup of the modified dossiers of target main (schedule backup-schedule/main)',
  });
  expect(backupBatchSummary({ target: 'main', retryOf: 3 })).toBe('Retry the failed dossiers of backup run 3 of target main');
});
