import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { createRegistryActivities } from '../../activities/registry';
import { failureTypeOf, FailureType } from '../../domain/failures';
import {
  backupDossierWorkflowId,
  backupProgressQuery,
  restoreDossierWorkflowId,
  type BackupDossierInput,
} from '../../workflows/backup-dossier.api';
import { startBackupDossier, startRestoreDossier } from '../../starts';
import { NightshiftDossier, NightshiftKind, NightshiftPhase, NightshiftTarget } from '../../workflows/search-attributes';
import { createTestStack, createTestWorker, devServerClient, tempDir, type TestStack } from '../helpers/env';
import { setCommon } from './backup-batch-helpers';

/** The single-dossier workflows on the Temporal dev server with a real worker (R-BK-3, R-BK-5, R-BK-6). */

let stack: TestStack;
let temporal: Awaited<ReturnType<typeof devServerClient>>;

beforeAll(async () => {
  stack = await createTestStack();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
  await stack?.close();
});

test('backupDossierWorkflow writes the archive, records the backup and shows its progress and search attributes (R-BK-5, R-BK-6)', async () => {
  const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
  await registry.createDossier('main', { code: 'WF1', label: 'Workflow' });
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  const input: BackupDossierInput = { target: 'main', code: 'WF1', reason: 'cloture' };
  const workflowId = `${backupDossierWorkflowId('main', 'WF1')}/${crypto.randomUUID()}`;
  await worker.runUntil(async () => {
    const handle = await startBackupDossier(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, workflowId, summary: 'Back up dossier WF1' });
    const result = await handle.result();
    expect(result.file).toMatch(/\/Cloture\/BWF1\.SVG$/);
    expect(fs.existsSync(result.file)).toBe(true);
    expect((await registry.getDossier('main', 'WF1')).lastBackupAt).toBe(result.snapshotAt);
    // R-BK-14: no bucket on this worker: no copy tried, none said, the generation's copy stays `none`
    expect(result.offsite).toBeUndefined();
    expect((await stack.pools.get('main').query('SELECT offsite_state FROM nightshift.backup_generation WHERE id = $1', [result.generationId])).rows).toEqual([{ offsite_state: 'none' }]);

    expect(await handle.query(backupProgressQuery)).toMatchObject({ phase: 'done' });
    const d = await handle.describe();
    expect(d.typedSearchAttributes.get(NightshiftTarget)).toBe('main');
    expect(d.typedSearchAttributes.get(NightshiftKind)).toBe('backup-dossier');
    expect(d.typedSearchAttributes.get(NightshiftDossier)).toBe('WF1');
    expect(d.typedSearchAttributes.get(NightshiftPhase)).toBe('done');
    expect(await d.staticSummary()).toBe('Back up dossier WF1');

    // the activity carries its summary in the history (shown in the Web UI's timeline)
    const history = await handle.fetchHistory();
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled?.userMetadata?.summary).toBeTruthy();

    // and the restore workflow brings it back under another code
    const restored = await (
      await startRestoreDossier(temporal.client, { target: 'main', file: result.file, as: 'WF1B', replace: false }, {
        taskQueue: stack.config.temporal.taskQueue,
        workflowId: `${restoreDossierWorkflowId('main', 'WF1B')}/${crypto.randomUUID()}`,
      })
    ).result();
    expect(restored.code).toBe('WF1B');
    expect(await registry.tableStats('main', 'WF1B')).toEqual(await registry.tableStats('main', 'WF1'));
  });
});

test('a dossier in use fails the workflow at once with DossierInUse, no retry, no file (R-BK-3)', async () => {
  const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
  await registry.createDossier('main', { code: 'WF2', label: 'Ouvert' });
  const session = crypto.randomUUID();
  const pool = stack.pools.get('main');
  await pool.query(`INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, 'paul', 'x', now() + interval '1 hour')`, [session]);
  await pool.query(`INSERT INTO nightshift.session_dossier (session_id, dossier_code) VALUES ($1, 'WF2')`, [session]);
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  await worker.runUntil(async () => {
    const handle = await startBackupDossier(temporal.client, { target: 'main', code: 'WF2', reason: 'manual' }, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `${backupDossierWorkflowId('main', 'WF2')}/${crypto.randomUUID()}`,
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(failureTypeOf(err)).toBe(FailureType.DossierInUse);
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
    expect((await handle.describe()).typedSearchAttributes.get(NightshiftPhase)).toBe('failed');
  });
  expect(fs.existsSync(`${stack.config.backupDir}/BWF2.SVG`)).toBe(false);
  expect((await registry.getDossier('main', 'WF2')).lastBackupAt).toBeNull();
});

test('R-BK-9 R-BK-5: a single-dossier backup goes to the common backup folder when this machine sets none', async () => {
  const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
  await registry.createDossier('main', { code: 'WF9', label: 'Common folder' });
  const common = tempDir('common-folder');
  await setCommon(stack.pools.get('main'), 'folder', common);
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  try {
    const result = await worker.runUntil(async () =>
      (
        await startBackupDossier(temporal.client, { target: 'main', code: 'WF9', reason: 'echange-prestataire' }, {
          taskQueue: stack.config.temporal.taskQueue,
          workflowId: `${backupDossierWorkflowId('main', 'WF9')}/${crypto.randomUUID()}`,
        })
      ).result(),
    );
    expect(result.file).toBe(path.join(common, 'EchangePrest', 'BWF9.SVG'));
    expect(fs.existsSync(result.file)).toBe(true);
  } finally {
    await stack.pools.get('main').query(`DELETE FROM nightshift.backup_setting WHERE key = 'folder'`);
  }
});
