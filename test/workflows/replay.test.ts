import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type * as registered from '../../workflows/index';
import { quietRuntime, requireEnv } from '../helpers/env';

/**
 * Replays every recorded history against today's workflow code: test/histories/<release>/*.json, written by
 * `npm run histories` (test/histories/record.ts) once per release. Runs of every release kept here may still
 * be in flight, so a change that breaks determinism for any of them fails here (version it with patched()).
 * test/histories/broken/ holds a history that must FAIL, so that this test is seen to be able to fail.
 */

const dir = path.join(__dirname, '..', 'histories');

/** Every registered workflow type: listing them all is checked by tsc, recording them all by a test below. */
const REGISTERED: Record<keyof typeof registered, true> = {
  backupDossierWorkflow: true,
  restoreDossierWorkflow: true,
  backupBatchWorkflow: true,
  backupReportMailWorkflow: true,
  patchIntegrationWorkflow: true,
  maintenanceWindowWorkflow: true,
  maintenanceMailWorkflow: true,
  patchRollbackWorkflow: true,
  backupVerifyWorkflow: true,
  backupVerifyMailWorkflow: true,
  backupPruneWorkflow: true,
  backupRestoreRunWorkflow: true,
};

const RELEASE = /^\d+\.\d+\.\d+$/;
const releases = fs
  .readdirSync(dir)
  .filter((f) => RELEASE.test(f) && fs.statSync(path.join(dir, f)).isDirectory())
  .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
const current = (JSON.parse(fs.readFileSync(path.join(dir, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

type Event = NonNullable<ReturnType<typeof historyFromJSON>['events']>[number];

function load(folder: string) {
  return fs
    .readdirSync(path.join(dir, folder))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, folder, file), 'utf8')));
      const events: Event[] = history.events ?? [];
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      // the recorded id: workflows derive ids from their own (child ids, ledger rows), so replay under the same one
      return { file: `${folder}/${file}`, type: started?.workflowType?.name ?? '?', workflowId: started?.workflowId || `replay-${file}`, history, events };
    });
}

const histories = releases.flatMap(load);
const broken = load('broken');

const replay = (h: (typeof histories)[number]) => Worker.runReplayHistory({ workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') } }, h.history, h.workflowId);

beforeAll(() => quietRuntime());

test.each(histories.map((h) => [h.type, h.file, h] as const))('%s replays its recorded history (%s) without a determinism error', async (_type, _file, h) => {
  expect(h.events.length).toBeGreaterThan(5);
  await expect(replay(h)).resolves.toBeUndefined();
});

test.each(broken.map((h) => [h.file, h] as const))('a history the code no longer matches (%s) FAILS with a determinism error', async (_file, h) => {
  expect(h.events.length).toBeGreaterThan(5);
  await expect(replay(h)).rejects.toBeInstanceOf(DeterminismViolationError);
});

test('the current release has its recorded histories, one per registered workflow type at least', () => {
  expect(releases).toContain(current);
  const recorded = new Set(load(current).map((h) => h.type));
  expect(Object.keys(REGISTERED).filter((t) => !recorded.has(t))).toEqual([]);
});

test('a recorded maintenance window starts a child workflow (its payload), so child commands are replayed too', () => {
  const windows = load(current).filter((h) => h.type === 'maintenanceWindowWorkflow');
  expect(windows.some((h) => h.events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes))).toBe(true);
});

test('there is a broken history, so the replay is shown to fail', () => {
  expect(broken.length).toBeGreaterThan(0);
});
