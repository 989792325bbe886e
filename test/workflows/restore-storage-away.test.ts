import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { failureTypeOf } from '../../domain/failures';
import { startRestoreDossier } from '../../starts';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { quietRuntime, requireEnv, uniqueName } from '../helpers/env';

/**
 * R-BK-14: a restore whose off-site copy cannot be read because the storage does not answer fails, after its
 * activity's attempts, with what to do (run it again once the storage answers) rather than a hint at the archive. On
 * the time-skipping test server (the retries' backoff, ~2.5 minutes, skipped); the storage's failure is the one the
 * real activity throws (test/offsite/restore-offsite.test.ts).
 */

jest.setTimeout(90_000);

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  quietRuntime();
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER') } } });
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!])),
  });
});
afterAll(async () => {
  await env?.teardown();
});

/** A worker whose restoreDossier activity is `restoreDossier` (the failure a real one throws, tested on real servers elsewhere). */
function restoreWorker(taskQueue: string, restoreDossier: () => Promise<never>): Promise<Worker> {
  return Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') }, activities: { restoreDossier } });
}

test('R-BK-14: the storage away over every attempt: the restore fails OffsiteUnavailable, saying to run it again once the storage answers', async () => {
  const taskQueue = uniqueName('tq');
  let attempts = 0;
  const said = 'off-site storage failed while reading nightshift/main/R1/BR1.20261202T210000Z.abc123.SVG (ECONNREFUSED, bucket b at http://127.0.0.1:9)';
  const worker = await restoreWorker(taskQueue, async () => {
    attempts++;
    throw ApplicationFailure.create({ type: 'OffsiteUnavailable', message: said, nonRetryable: false });
  });
  await worker.runUntil(async () => {
    const handle = await startRestoreDossier(env.client, { target: 'main', file: '/srv/sauve/generations/R1/BR1.20261202T210000Z.abc123.SVG', as: 'R1X', replace: false, generationId: 7, from: 'offsite' }, { taskQueue, summary: 'restore R1' });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(failureTypeOf(err)).toBe('OffsiteUnavailable');
    expect((err as WorkflowFailedError).cause?.message).toBe(`${said}. Nothing was restored; once the storage answers, run the same restore again`);
  });
  expect(attempts).toBe(5);
});

test('R-BK-3 (drill W, session 40): a restore refused because the dossier is in use says, in the Web UI, to run it again once its users have left, not to check the archive', async () => {
  const taskQueue = uniqueName('tq');
  const inUse = 'Echec du traitement. Les données concernées sont utilisées par un autre utilisateur.';
  const worker = await restoreWorker(taskQueue, async () => {
    throw ApplicationFailure.create({ type: 'DossierInUse', message: inUse, nonRetryable: true });
  });
  await worker.runUntil(async () => {
    const handle = await startRestoreDossier(env.client, { target: 'main', file: '/srv/sauve/BR1.SVG', as: 'R1', replace: true, generationId: 7, from: 'auto' }, { taskQueue, summary: 'restore R1' });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failureTypeOf(err)).toBe('DossierInUse');
    const details = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(details).toContain('Nothing was restored. Once its users have left the dossier (R-BK-3), run the same restore again');
    expect(details).not.toContain('--verify-only');
  });
});
