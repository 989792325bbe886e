import crypto from 'node:crypto';
import fs from 'node:fs';
import { Context } from '@temporalio/activity';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { createActivities } from '../../workers/activities';
import { startBackupBatch } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { batchResult, partialBatchResult, type BackupBatchInput } from '../../workflows/backup-batch.api';
import { createTestStack, createTestWorker, devServerClient, quietRuntime } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { createDossiers, ledger, waitFor } from '../workflows/backup-batch-helpers';

/**
 * R-BK-1, R-BK-7, R-BK-14 (drill B, session 35): a batch cancelled while a dossier's archive is written and its off-site
 * copy not yet made. The run was closed at once, its dossiers without a ledger row recorded "cancelled before this
 * dossier", and the dossier's late outcome refused: backed up (and copied), reported not attempted, backed up again
 * by the retry. Now the close waits for the chunk: the dossier is said as it is (archive written, copy cut short),
 * the others not attempted, and the retry copies that archive instead of taking a new one.
 */

let temporal: Awaited<ReturnType<typeof devServerClient>>;
let s3: S3TestServer;

beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
  await temporal?.close();
});

test('R-BK-7 / R-BK-14: cancelled between a dossier\'s archive and its off-site copy, the run is closed once the chunk has ended: that dossier is said written and its copy cut short, not "cancelled before it"; the retry copies its archive', async () => {
  const stack = await createTestStack(s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'cancel-copy/' }));
  const pool = stack.pools.get('main');
  await createDossiers(stack, [{ code: 'X1' }, { code: 'X2' }, { code: 'X3' }]);
  const acts = createActivities({ config: stack.config, pools: stack.pools });
  const held = createBackupBatchActivities(
    { config: stack.config, pools: stack.pools },
    {
      // X1's archive is recorded; its copy waits for the cancellation to reach the chunk (then a moment more: the
      // close, were it not waiting, would have run by then)
      afterBackupRecorded: async (code) => {
        if (code !== 'X1') return;
        const signal = Context.current().cancellationSignal;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await new Promise((r) => setTimeout(r, 2_000));
      },
    },
  );
  const w = await createTestWorker(stack, temporal.nativeConnection, { activities: { ...acts, ...held } });
  try {
    await w.runUntil(async () => {
      const input = { target: 'main', tuning: { window: 1, chunkSize: 3, concurrency: 1, heartbeatTimeout: '4s' } } satisfies BackupBatchInput;
      const handle = await startBackupBatch(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      const recorded = await waitFor('X1 recorded', async () => (await dossierGenerations(pool, 'X1'))[0]);
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      const { rows } = await pool.query('SELECT id, state, report_path FROM nightshift.backup_run');
      expect(rows).toHaveLength(1);
      const runId = Number(rows[0].id);
      expect(rows[0].state).toBe('failed');
      const cut = `Echec du traitement. off-site copy cut short: the batch was cancelled; the archive is written (generation ${recorded.id}), its copy is left to the next batch or a retry`;
      expect(await ledger(pool, runId)).toEqual([
        { code: 'X1', status: 'failed', error: cut, attempts: 1 },
        { code: 'X2', status: 'not_done', error: 'Non traité. the batch was cancelled', attempts: 0 },
        { code: 'X3', status: 'not_done', error: 'Non traité. the batch was cancelled', attempts: 0 },
      ]);
      expect(fs.readFileSync(rows[0].report_path, 'utf8')).toContain(`Dossier X1 : ${cut}\r\n`);

      // the retry copies X1's archive (no second generation) and backs up the two others
      const retry = await startBackupBatch(temporal.client, { target: 'main', retryOf: runId }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      const result = await batchResult(retry.result()).catch((e: unknown) => partialBatchResult(e) ?? Promise.reject(e));
      expect(result).toMatchObject({ state: 'completed', total: 3, ok: 3, failed: 0 });
      const x1 = await dossierGenerations(pool, 'X1');
      expect(x1).toHaveLength(1);
      expect(x1[0]).toMatchObject({ id: recorded.id, offsiteState: 'copied' });
    });
  } finally {
    await stack.close();
  }
});
