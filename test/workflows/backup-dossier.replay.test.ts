import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { quietRuntime, requireEnv } from '../helpers/env';

/**
 * Replays recorded histories (test/histories/record.ts) against today's workflow code: a change
 * that breaks determinism for runs already in flight fails here.
 */

test.each([
  ['backupDossierWorkflow', 'backup-dossier.json'],
  ['restoreDossierWorkflow', 'restore-dossier.json'],
])('%s replays its recorded history (%s) without a determinism error', async (_type, file) => {
  quietRuntime();
  const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'histories', file), 'utf8')));
  expect(history.events?.length).toBeGreaterThan(5);
  await expect(
    Worker.runReplayHistory({ workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') } }, history, `replay-${file}`),
  ).resolves.toBeUndefined();
});
