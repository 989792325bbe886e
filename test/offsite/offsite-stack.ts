import crypto from 'node:crypto';
import { startBackupBatch, startBackupVerify } from '../../starts';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { type BackupBatchInput, type BackupBatchResult, batchResult, partialBatchResult } from '../../workflows/backup-batch.api';
import { batchPruneWorkflowId } from '../../workflows/backup-prune.api';
import { type BackupVerifyResult, verifyResult } from '../../workflows/backup-verify.api';
import { createTestStack, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { waitFor } from '../workflows/backup-batch-helpers';

/**
 * One test file's off-site setup on real servers: the Temporal dev server, a versitygw of its own, a migrated
 * stack whose workers copy to it under `prefix`, and a store client to look at the bucket.
 */
export interface OffsiteStack {
  temporal: Awaited<ReturnType<typeof devServerClient>>;
  s3: S3TestServer;
  stack: TestStack;
  store: OffsiteStore;
}

/**
 * Sets the stack up before the file's tests and tears it down after them; the context is filled in by then
 * (as useCluster's). keepEveryGeneration: the prune each batch starts at its end keeps every generation (for the
 * tests that are not about retention, R-BK-11).
 */
export function useOffsiteStack(prefix: string, options: { keepEveryGeneration?: boolean } = {}): OffsiteStack {
  const s = {} as OffsiteStack;
  beforeAll(async () => {
    quietRuntime();
    s.temporal = await devServerClient();
    s.s3 = await startS3Server();
    s.stack = await createTestStack(s.s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: prefix }));
    s.store = createOffsiteStore(s.stack.config.offsite!);
    if (options.keepEveryGeneration) await setRetentionSetting(s.stack.pools.get('main'), { normal: { last: 20, daily: 0, weekly: 0, monthly: 0 } });
  });
  afterAll(async () => {
    s.store?.close();
    await s.stack?.close();
    await s.s3?.stop();
    await s.temporal?.close();
  });
  return s;
}

/** A batch on `main` (10 a chunk, one at a time) and its result; a batch that failed part-way gives its partial result. */
export async function runBatch(s: OffsiteStack, input: Partial<BackupBatchInput> = {}, workflowId = `backup/main/${crypto.randomUUID()}`): Promise<BackupBatchResult> {
  const handle = await startBackupBatch(
    s.temporal.client,
    { target: 'main', tuning: { chunkSize: 10, window: 1, concurrency: 1 }, ...input },
    { taskQueue: s.stack.config.temporal.taskQueue, workflowId },
  );
  return batchResult(handle.result()).catch((e: unknown) => {
    const partial = partialBatchResult(e);
    if (partial) return partial;
    throw e;
  });
}

/** runBatch, then the prune and the verification the batch starts at its end, both finished. */
export async function batchAndFollowUps(s: OffsiteStack): Promise<BackupBatchResult> {
  const workflowId = `backup/main/${crypto.randomUUID()}`;
  const r = await runBatch(s, {}, workflowId);
  await s.temporal.client.workflow.getHandle(batchPruneWorkflowId(workflowId)).result();
  if (r.ok > 0) {
    const pool = s.stack.pools.get('main');
    await waitFor(
      "the batch's verification",
      async () => ((await pool.query("SELECT 1 FROM nightshift.verify_run WHERE backup_run_id = $1 AND state <> 'running'", [r.runId])).rowCount ? true : undefined),
      120_000,
    );
  }
  return r;
}

/** A verification of these dossiers' kept generations, checksums only (no sample restored). */
export async function verifyCodes(s: OffsiteStack, codes: string[]): Promise<BackupVerifyResult> {
  const handle = await startBackupVerify(s.temporal.client, { target: 'main', codes, samplePercent: 0 }, { taskQueue: s.stack.config.temporal.taskQueue, workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  return verifyResult(handle.result());
}
