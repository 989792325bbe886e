import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import globalSetup from '../setup/global-setup';
import globalTeardown from '../setup/global-teardown';
import { createRegistryActivities } from '../../activities/registry';
import { backupDossierWorkflowId, restoreDossierWorkflowId } from '../../workflows/backup-dossier.api';
import { createTestStack, createTestWorker, devServerClient } from '../helpers/env';

/**
 * Records real histories of the single-dossier workflows for the replay test (replay.test.ts).
 * Re-record only when a workflow changes on purpose (and version it if runs may be in flight):
 *   node bin/run-ts.js test/histories/record.ts
 * It starts the same servers as the test suite (embedded PostgreSQL, Temporal dev server), runs
 * one backup and one restore with a real worker, and writes backup-dossier.json / restore-dossier.json.
 */
/** The canonical JSON history, as `temporal workflow show --output json` prints it (what historyFromJSON reads). */
function historyJson(workflowId: string): string {
  return execFileSync(
    process.env.NS_TEST_TEMPORAL_CLI!,
    ['workflow', 'show', '--workflow-id', workflowId, '--address', process.env.NS_TEST_TEMPORAL_ADDRESS!, '--output', 'json'],
    { encoding: 'utf8' },
  );
}

async function record(): Promise<void> {
  await globalSetup();
  const stack = await createTestStack();
  const temporal = await devServerClient();
  try {
    await createRegistryActivities({ config: stack.config, pools: stack.pools }).createDossier('main', { code: 'REPLAY', label: 'Rejeu' });
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(async () => {
      const backup = await temporal.client.workflow.start('backupDossierWorkflow', {
        taskQueue: stack.config.temporal.taskQueue,
        workflowId: backupDossierWorkflowId('main', 'REPLAY'),
        args: [{ target: 'main', code: 'REPLAY', reason: 'manual', includeDocuments: true }],
      });
      const { file } = await backup.result();
      fs.writeFileSync(path.join(__dirname, 'backup-dossier.json'), historyJson(backup.workflowId));
      const restore = await temporal.client.workflow.start('restoreDossierWorkflow', {
        taskQueue: stack.config.temporal.taskQueue,
        workflowId: restoreDossierWorkflowId('main', 'REPLAY2'),
        args: [{ target: 'main', file, as: 'REPLAY2', replace: false }],
      });
      await restore.result();
      fs.writeFileSync(path.join(__dirname, 'restore-dossier.json'), historyJson(restore.workflowId));
    });
  } finally {
    await temporal.close();
    await stack.close();
    await globalTeardown();
  }
}

record().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
