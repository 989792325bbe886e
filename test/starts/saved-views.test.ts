import type { Client } from '@temporalio/client';
import { dossierHistory, dossierHistoryById, failedOrPartialSince, runningNow, webUiListUrl } from '../../domain/saved-views';
import { startBackupBatch, startBackupDossier } from '../../starts';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, uniqueName } from '../helpers/env';
import { waitFor } from '../workflows/backup-batch-helpers';

/** The README's saved views (domain/saved-views.ts) run on the dev server and find what they say. */

jest.setTimeout(90_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
const started: string[] = [];
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  for (const id of started) await temporal.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await temporal?.close();
});

async function ids(client: Client, query: string): Promise<string[]> {
  const found: string[] = [];
  for await (const w of client.workflow.list({ query })) found.push(w.workflowId);
  return found.sort();
}

/** Visibility lags the start a little: wait until the query's answer contains what it must. */
const listed = (query: string, expected: string[]) =>
  waitFor(`${query} lists ${expected.join(', ')}`, async () => {
    const found = await ids(temporal.client, query);
    return expected.every((id) => found.includes(id)) ? found : undefined;
  });

test('running now, and one dossier\'s history by NightshiftDossier and by workflow id (D1, not D10)', async () => {
  const target = uniqueName('sv').toLowerCase();
  const taskQueue = uniqueName('nobody');
  const batch = await startBackupBatch(temporal.client, { target }, { taskQueue });
  const d1 = await startBackupDossier(temporal.client, { target, code: 'D1' }, { taskQueue });
  const d1Closing = await startBackupDossier(temporal.client, { target, code: 'D1', reason: 'cloture' }, { taskQueue, event: 'closing' });
  const d10 = await startBackupDossier(temporal.client, { target, code: 'D10' }, { taskQueue });
  started.push(batch.workflowId, d1.workflowId, d1Closing.workflowId, d10.workflowId);

  // each start waited for, not the first alone (the dev server's visibility lags each one a little: CI once saw D10 missing)
  const all = [batch.workflowId, d1.workflowId, d1Closing.workflowId, d10.workflowId];
  expect(await listed(runningNow(target), all)).toEqual([...all].sort());
  expect(await listed(dossierHistory(target, 'D1'), [d1.workflowId, d1Closing.workflowId])).toEqual([d1.workflowId, d1Closing.workflowId].sort());
  expect(await listed(dossierHistoryById(target, 'D1'), [d1.workflowId, d1Closing.workflowId])).toEqual([d1.workflowId, d1Closing.workflowId].sort());
  await temporal.client.workflow.getHandle(d10.workflowId).terminate('test');
  await waitFor('D10 no longer running', async () => ((await ids(temporal.client, runningNow(target))).includes(d10.workflowId) ? undefined : true));
});

test('failed or partial tonight: a failed run is listed, a running one is not', async () => {
  const since = new Date(Date.now() - 1000);
  const stack = await createTestStack();
  try {
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const failed = await startBackupDossier(temporal.client, { target: 'main', code: 'NOSUCH' }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-dossier/main/${uniqueName('NOSUCH')}` });
    await worker.runUntil(failed.result().catch(() => undefined));
    const running = await startBackupBatch(temporal.client, { target: 'main' }, { taskQueue: uniqueName('nobody'), workflowId: `backup/main/${uniqueName('sv')}` });
    started.push(running.workflowId);
    const found = await listed(failedOrPartialSince('main', since), [failed.workflowId]);
    expect(found).not.toContain(running.workflowId);
    expect(await ids(temporal.client, failedOrPartialSince('main', new Date(Date.now() + 3600_000)))).toEqual([]);
  } finally {
    await stack.close();
  }
});

test('the ready URLs are the dev server UI list filtered by the query', () => {
  expect(webUiListUrl(runningNow('main'))).toBe(
    "http://localhost:8233/namespaces/default/workflows?query=NightshiftTarget%20%3D%20'main'%20AND%20ExecutionStatus%20%3D%20'Running'",
  );
  expect(failedOrPartialSince('main', new Date('2026-12-02T17:00:00.000Z'))).toBe(
    "NightshiftTarget = 'main' AND (ExecutionStatus = 'Failed' OR NightshiftPhase IN ('failed', 'partial')) AND StartTime >= '2026-12-02T17:00:00Z'",
  );
});
