import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type * as registered from '../../workflows/index';
import { quietRuntime, requireEnv } from '../helpers/env';

/**
 * Replays every recorded history (test/histories/*.json, written by test/histories/record.ts) against
 * today's workflow code: a change that breaks determinism for runs already in flight fails here.
 */

const dir = path.join(__dirname, '..', 'histories');

/** Every registered workflow type: listing them all is checked by tsc, recording them all by the last test. */
const REGISTERED: Record<keyof typeof registered, true> = {
  backupDossierWorkflow: true,
  restoreDossierWorkflow: true,
  backupBatchWorkflow: true,
  backupReportMailWorkflow: true,
  patchIntegrationWorkflow: true,
  maintenanceWindowWorkflow: true,
};

const histories = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    // the recorded id: workflows derive ids from their own (child ids, ledger rows), so replay under the same one
    return { file, type: started?.workflowType?.name ?? '?', workflowId: started?.workflowId || `replay-${file}`, history };
  });

test.each(histories.map((h) => [h.type, h.file, h] as const))('%s replays its recorded history (%s) without a determinism error', async (_type, _file, { history, workflowId }) => {
  quietRuntime();
  expect(history.events?.length).toBeGreaterThan(5);
  await expect(
    Worker.runReplayHistory({ workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') } }, history, workflowId),
  ).resolves.toBeUndefined();
});

test('every registered workflow type has at least one recorded history', () => {
  const recorded = new Set(histories.map((h) => h.type));
  expect(Object.keys(REGISTERED).filter((t) => !recorded.has(t))).toEqual([]);
});
